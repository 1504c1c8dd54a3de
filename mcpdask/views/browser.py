"""Interactive limit browser: eps_lim versus m_chi from a stored cube, built with hvplot and panel.

The widgets for exposure (leptons on target), recoil cut x_min and target thickness re-derive the
limits from the cube's stored dsigma/dx through `mcpdask.limits.limits_dataset` (no integration);
the experiment and channel check boxes show and hide curves in the browser (JavaScript), so they
cost nothing. Existing limits (`mcpdask.references`) are overlaid as shaded regions.

`LimitBrowser(cube).panel()` is the app (a notebook shows it inline); `serve` runs it on a local
panel server; `save_html` writes a standalone file with every exposure/cut/thickness state
embedded, that works offline (panel's CDN stylesheets are inlined as data URLs).
"""

from __future__ import annotations

import base64
import errno
import math
import mimetypes
import re
import socket
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from mcpdask.errors import McpdaskError, StoreError
from mcpdask.limits import Exposure, Statistics, limits_dataset
from mcpdask.references import ReferenceCurve

CHANNELS = ("brem", "meson", "combined")
"""The channels drawn: bremsstrahlung, the sum of the vector mesons, and their combination."""

NOMINAL = "nominal"
EXPERIMENT_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")
HOVER_TOOLTIPS = [
    ("", "@exp @chan"),
    ("m_χ [GeV]", "@mass{0.0000}"),
    ("ε limit", "@eps{0.000e}"),
    ("N_sig(ε=1)", "@n_signal{0.000e}"),
]
CHANNEL_DASH = {"brem": "solid", "meson": "dotted", "combined": "dashed"}
OVERLAY_COLORS = (
    "#7f7f7f", "#bcbd22", "#17becf", "#e377c2", "#8c564b",
    "#aec7e8", "#ffbb78", "#98df8a", "#c5b0d5", "#c49c94",
)  # fmt: skip
_BROWSER_NEEDS = ("dsigma_dx", "dsigma_dx_err", "status", "x_edge", "leptons_on_target",
                  "thickness_cm", "target_X0", "x_min", "nominal_energy")  # fmt: skip

# the JavaScript behind the experiment and channel check boxes: show a curve when both its
# experiment and its channel are ticked (each curve's data source carries the two as columns)
_TOGGLE_JS = """
const on_exp = experiments.active.map((i) => experiments.labels[i]);
const on_chan = channels.active.map((i) => channels.labels[i]);
for (const r of plot.renderers) {
  const data = r.data_source == null ? null : r.data_source.data;
  if (data == null || data.exp == null || data.chan == null) continue;
  r.visible = on_exp.includes(String(data.exp[0])) && on_chan.includes(String(data.chan[0]));
}
const panels = [...plot.center, ...plot.right, ...plot.left, ...plot.above, ...plot.below];
for (const legend of panels.filter((m) => m.items != null)) {
  for (const item of legend.items) {
    if (item.renderers.length) item.visible = item.renderers.some((r) => r.visible);
  }
}
"""


class BrowserError(McpdaskError):
    """The limit browser cannot be built, served or saved (bad option, port in use, ...)."""


def require_variables(cube: xr.Dataset, names: Sequence[str], what: str) -> None:
    """Raise StoreError naming the variables or coordinates of `names` that `cube` lacks."""
    if not isinstance(cube, xr.Dataset):
        raise StoreError(
            f"{what}: expected an opened cube (xarray Dataset), got {type(cube).__name__}"
        )
    missing = [n for n in names if n not in cube.variables]
    if missing:
        raise StoreError(f"{what}: the cube lacks {', '.join(missing)} (not an mcpdask cube?)")


def _fmt_lot(value: float) -> str:
    exponent = math.floor(math.log10(value))
    mantissa = value / 10**exponent
    return f"1e{exponent}" if abs(mantissa - 1) < 1e-9 else f"{mantissa:g}e{exponent}"


def default_options(cube: xr.Dataset, coarse: bool = False) -> dict[str, list]:
    """Widget values: leptons on target (decades around the cube's nominal exposures), x_min
    (0.1 steps inside the stored bins) and thickness in radiation lengths; each list starts with
    'nominal' (each experiment's own value). `coarse`: fewer values (for the embedded HTML)."""
    lots = np.asarray(cube["leptons_on_target"].values, dtype=float)
    lo = math.floor(math.log10(lots.min())) - 2
    hi = math.ceil(math.log10(lots.max())) + 2
    decades = [10.0**k for k in range(lo, hi + 1, 2 if coarse else 1)]
    edges = np.asarray(cube["x_edge"].values, dtype=float)
    cuts = (0.3, 0.5, 0.7, 0.9) if coarse else tuple(np.round(np.arange(0.1, 1.0, 0.1), 2))
    cuts = [c for c in cuts if edges[0] <= c < edges[-1]]
    thick = (0.1, 1.0, 10.0, 40.0) if coarse else (0.1, 0.4, 1.0, 4.0, 10.0, 40.0)
    return {
        "leptons_on_target": [NOMINAL, *decades],
        "x_min": [NOMINAL, *cuts],
        "thickness_x0": [NOMINAL, *thick],
    }


class LimitBrowser:
    """eps_lim(m_chi) per experiment and channel from `cube`, with widgets (see module docstring).

    options: widget values as from `default_options` (missing keys: the defaults). cl, background,
    n_up: the statistics (mcpdask.limits.Statistics). The limits for every combination of
    widget values are derived once, lazily, in one dask computation (`grid`); `derive` re-derives
    one setting from the cube.
    """

    def __init__(
        self,
        cube: xr.Dataset,
        overlays: Sequence[ReferenceCurve] = (),
        *,
        options: dict[str, list] | None = None,
        coarse: bool = False,
        cl: float = 0.9,
        background: float = 0.0,
        n_up: float | None = None,
        title: str | None = None,
    ):
        require_variables(cube, _BROWSER_NEEDS, "limit browser")
        self.cube = cube
        self.overlays = list(overlays)
        self.options = {**default_options(cube, coarse), **(options or {})}
        self.stats = Statistics(n_up=n_up, cl=cl, background=background)
        self.experiments = [str(e) for e in cube["experiment"].values]
        self.title = title or str(cube.attrs.get("title", "mcpdask limits"))
        self.warnings: list[str] = []
        self._grid: xr.Dataset | None = None
        self.derive_count = 0

    # ---------------------------------------------------------------- deriving the limits

    @staticmethod
    def _overrides(lot, x_min, thickness_x0) -> Exposure:
        def value(v):
            return None if v == NOMINAL else float(v)

        return Exposure(leptons_on_target=value(lot), x_min=value(x_min),
                        thickness_x0=value(thickness_x0))  # fmt: skip

    def _limits(self, exposure: Exposure) -> xr.Dataset:
        with warnings.catch_warnings(record=True) as caught, np.errstate(all="ignore"):
            warnings.simplefilter("always")
            ds = limits_dataset(self.cube, exposure, self.stats, channels=list(CHANNELS))
            ds = ds.compute()
        for w in caught:
            msg = str(w.message)
            if issubclass(w.category, UserWarning) and msg not in self.warnings:
                self.warnings.append(msg)
        return ds

    def derive(self, lot=NOMINAL, x_min=NOMINAL, thickness_x0=NOMINAL) -> xr.Dataset:
        """Limits (eps_limit, n_signal_eps1 along experiment, mass, channel) for one setting,
        derived from the cube now."""
        self.derive_count += 1
        return self._limits(self._overrides(lot, x_min, thickness_x0))

    @property
    def grid(self) -> xr.Dataset:
        """Limits for every combination of widget values (dims lot, x_min, thickness_x0 indexed by
        option position), derived in one lazy pass over the cube."""
        if self._grid is None:
            # exposure, cut and thickness as new dims: one derivation for all combinations
            lots = [np.nan if v == NOMINAL else v for v in self.options["leptons_on_target"]]
            cuts = [np.nan if v == NOMINAL else v for v in self.options["x_min"]]
            thick = [np.nan if v == NOMINAL else v for v in self.options["thickness_x0"]]
            sub = self.cube
            nominal_lot = sub["leptons_on_target"].reset_coords(drop=True)
            nominal_cut = sub["x_min"].reset_coords(drop=True)
            x0 = sub["target_X0"].reset_coords(drop=True)
            nominal_thick = sub["thickness_cm"].reset_coords(drop=True)

            def along(values, dim, nominal, scale=None):
                da = xr.DataArray(values, dims=dim, coords={dim: np.arange(len(values))})
                value = da if scale is None else da * scale
                return xr.where(np.isnan(da), nominal, value).transpose("experiment", dim)

            self._grid = self._limits(
                Exposure(
                    leptons_on_target=along(lots, "lot", nominal_lot),
                    x_min=along(cuts, "cut", nominal_cut),
                    thickness_cm=along(thick, "thickness", nominal_thick, scale=x0),
                )
            )
        return self._grid

    @staticmethod
    def _keys() -> tuple[str, str, str]:
        return ("leptons_on_target", "x_min", "thickness_x0")

    def limits_at(self, lot=NOMINAL, x_min=NOMINAL, thickness_x0=NOMINAL) -> xr.Dataset:
        """One setting from the precomputed grid (values must be among the options)."""
        idx = {}
        for dim, key, value in zip(
            ("lot", "cut", "thickness"), self._keys(), (lot, x_min, thickness_x0), strict=True
        ):
            try:
                idx[dim] = self.options[key].index(value)
            except ValueError:
                raise BrowserError(
                    f"{key} = {value!r} is not one of the options {self.options[key]}"
                ) from None
        return self.grid.isel(idx)

    def curves_table(self, ds: xr.Dataset):
        """A long pandas table (experiment, channel, mass, eps, n_signal) for plotting; no
        sensitivity (+inf) and masked points (NaN) are NaN, which break the line."""
        eps = ds["eps_limit"].where(np.isfinite(ds["eps_limit"]))
        table = xr.Dataset({"eps": eps, "n_signal": ds["n_signal_eps1"]})
        keep = ["experiment", "mass", "channel"]
        table = table.drop_vars([c for c in table.coords if c not in keep])
        df = table.to_dataframe().reset_index()
        return df[["experiment", "channel", "mass", "eps", "n_signal"]]

    # ---------------------------------------------------------------- the plot

    def drawn_curves(self) -> set[tuple[str, str]]:
        """(experiment, channel) pairs with a finite limit somewhere in the grid (NA64mu has no
        meson channel: not drawn)."""
        finite = np.isfinite(self.grid["eps_limit"]).any(
            [d for d in self.grid["eps_limit"].dims if d not in ("experiment", "channel")]
        )
        return {
            (str(e), str(c))
            for e in finite["experiment"].values
            for c in finite["channel"].values
            if bool(finite.sel(experiment=e, channel=c))
        }

    def y_range(self) -> tuple[float, float]:
        eps = self.grid["eps_limit"].values
        eps = eps[np.isfinite(eps) & (eps > 0)]
        low = eps.min() if eps.size else 1e-6
        return 10 ** math.floor(math.log10(low) - 0.3), 1.0

    def x_range(self) -> tuple[float, float]:
        mass = np.asarray(self.cube["mass"].values, dtype=float)
        return mass.min() / 1.5, mass.max() * 1.5

    def overlay_element(self):
        """The existing limits as shaded polygons with legend entries (static)."""
        import holoviews as hv

        top = self.y_range()[1] * 10
        elements = []
        for k, ov in enumerate(self.overlays):
            m, e = ov.polygon(eps_top=top)
            color = OVERLAY_COLORS[k % len(OVERLAY_COLORS)]
            poly = hv.Polygons([{"mass": m, "eps": e}], kdims=["mass", "eps"], label=ov.name)
            elements.append(
                poly.opts(
                    fill_color=color,
                    fill_alpha=0.18,
                    line_color=color,
                    line_alpha=0.9,
                    line_width=1.5,
                    show_legend=True,
                )
            )
        return hv.Overlay(elements) if elements else None

    def curves_element(self, lot=NOMINAL, x_min=NOMINAL, thickness_x0=NOMINAL, *, from_grid=True):
        """hvplot line per experiment and channel (fixed structure, so widget changes update only
        the data of the plot); hover shows mass, eps and the yield at eps = 1."""
        import holoviews as hv
        import hvplot.pandas  # noqa: F401  (registers DataFrame.hvplot)

        ds = (
            self.limits_at(lot, x_min, thickness_x0)
            if from_grid
            else self.derive(lot, x_min, thickness_x0)
        )
        df = self.curves_table(ds)
        drawn = self.drawn_curves()
        df = df[
            [(e, c) in drawn for e, c in zip(df["experiment"], df["channel"], strict=True)]
        ].copy()
        # the JavaScript check boxes and the hover read these per-point columns
        df["exp"], df["chan"] = df["experiment"], df["channel"]
        lines = df.hvplot.line(
            x="mass", y="eps", by=["experiment", "channel"], hover_cols=["n_signal", "exp", "chan"],
            logx=True, logy=True,
        )  # fmt: skip
        # one style pass over the NdOverlay: its curves come in (experiment, channel) order
        keys = list(lines.keys())
        colors = [
            EXPERIMENT_COLORS[self.experiments.index(e) % len(EXPERIMENT_COLORS)] for e, _ in keys
        ]
        return lines.opts(
            hv.opts.Curve(
                color=hv.Cycle(colors), line_dash=hv.Cycle([CHANNEL_DASH[c] for _, c in keys]),
                line_width=2.5, tools=["hover"], hover_tooltips=HOVER_TOOLTIPS,
            ),
            clone=True,
        )  # fmt: skip

    def panel(self, *, from_grid: bool = True, width: int = 900, height: int = 560):
        """The browser as a panel layout: widgets on the left, the plot on the right."""
        import holoviews as hv
        import hvplot.pandas  # noqa: F401  (registers .hvplot)
        import panel as pn

        if "bokeh" not in hv.Store.renderers:
            hv.extension("bokeh", logo=False)
        w_lot = pn.widgets.DiscreteSlider(
            name="exposure: leptons on target", options=_labelled(self.options["leptons_on_target"], _fmt_lot), value=NOMINAL
        )  # fmt: skip
        w_cut = pn.widgets.DiscreteSlider(
            name="recoil cut x_min", options=_labelled(self.options["x_min"], lambda v: f"{v:g}"), value=NOMINAL
        )  # fmt: skip
        w_thick = pn.widgets.DiscreteSlider(
            name="target thickness [X0]", options=_labelled(self.options["thickness_x0"], lambda v: f"{v:g}"), value=NOMINAL
        )  # fmt: skip
        w_exp = pn.widgets.CheckBoxGroup(
            name="experiment", options=self.experiments, value=list(self.experiments), inline=False
        )
        w_chan = pn.widgets.CheckBoxGroup(
            name="channel", options=list(CHANNELS), value=list(CHANNELS), inline=False
        )

        def curves(lot, x_min, thickness_x0):
            return self.curves_element(lot, x_min, thickness_x0, from_grid=from_grid)

        dmap = hv.DynamicMap(pn.bind(curves, w_lot, w_cut, w_thick))
        plot = dmap
        static = self.overlay_element()
        if static is not None:
            plot = static * dmap
        plot = plot.opts(
            hv.opts.Overlay(
                width=width, height=height, logx=True, logy=True,
                xlim=self.x_range(), ylim=self.y_range(),
                xlabel="m_χ [GeV]", ylabel="ε  (upper limit, units of e)",
                legend_position="right", title=self.title, fontscale=1.2,
                show_grid=True,
            )
        )  # fmt: skip
        pane = pn.pane.HoloViews(plot, linked_axes=False)
        for w in (w_exp, w_chan):
            w.jscallback(
                value=_TOGGLE_JS, args={"experiments": w_exp, "channels": w_chan, "plot": pane}
            )
        note = pn.pane.Markdown(self._note(), width=300)
        controls = pn.Column(
            "### Limit browser", pn.pane.Markdown("**experiments**"), w_exp,
            pn.pane.Markdown("**channels**"), w_chan, w_lot, w_cut, w_thick, note, width=320,
        )  # fmt: skip
        return pn.Row(controls, pane)

    def _note(self) -> str:
        n_up = self.grid["eps_limit"].attrs.get("n_up")
        text = (
            "eps_lim = sqrt(N_up / N_sig(eps=1)), "
            + (f"N_up = {n_up:.3g}; " if isinstance(n_up, float) else "")
            + "'nominal': each experiment's own value. Shaded: existing limits."
        )
        if self.warnings:
            text += "\n\n**warning:** " + " ".join(self.warnings)
        return text


def _labelled(values: list, fmt) -> dict:
    return {(NOMINAL if v == NOMINAL else fmt(v)): v for v in values}


# -------------------------------------------------------------------------------- output


def _data_url(path: Path) -> str:
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    data = path.read_bytes()
    if mime == "text/css":  # resolve the stylesheet's own relative url(...) references too
        text = data.decode()

        def inline(match):
            ref = match.group(2)
            if ref.startswith(("data:", "http:", "https:", "#")):
                return match.group(0)
            target = (path.parent / ref.split("?")[0]).resolve()
            return f"url('{_data_url(target)}')" if target.is_file() else match.group(0)

        data = re.sub(r"url\((['\"]?)([^'\")]+)\1\)", inline, text).encode()
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def inline_panel_cdn(html: str) -> str:
    """Replace references to panel's CDN (stylesheets, icons) by data URLs of the files panel
    ships, so the page loads nothing from the network (panel leaves them even with inline
    resources, holoviz/panel#6759); unknown files are dropped (empty data URL)."""
    import panel
    from panel.io.resources import CDN_DIST

    dist = Path(panel.__file__).parent / "dist"
    pattern = re.compile(re.escape(CDN_DIST) + r"([^\"'\\\s)?]+)(\?[^\"'\\\s)]*)?")

    def local(match):
        path = dist / match.group(1)
        return _data_url(path) if path.is_file() else "data:text/plain;base64,"

    return pattern.sub(local, html)


def save_html(browser: LimitBrowser, path: str | Path, *, title: str | None = None) -> dict:
    """Write the browser as a standalone HTML file with every widget state embedded (no server,
    no network). Returns {'path', 'states', 'seconds', 'bytes'}."""
    import panel as pn
    from bokeh.resources import INLINE

    path = Path(path)
    if path.parent and not path.parent.exists():
        raise BrowserError(f"cannot write {path}: directory {path.parent} does not exist")
    start = time.perf_counter()
    pn.config.inline = True
    app = browser.panel(from_grid=True)
    states = math.prod(len(v) for v in browser.options.values())
    pn.io.save.save(
        app, str(path), title=title or browser.title, resources=INLINE, embed=True,
        max_states=max(states, 1), max_opts=max(len(v) for v in browser.options.values()),
        progress=False,
    )  # fmt: skip
    path.write_text(inline_panel_cdn(path.read_text()))
    return {
        "path": path,
        "states": states,
        "seconds": time.perf_counter() - start,
        "bytes": path.stat().st_size,
    }


def check_port(port: int, address: str = "127.0.0.1") -> None:
    """Raise BrowserError if `port` cannot be bound on `address` (in use, privileged, invalid)."""
    if not 0 <= port <= 65535:
        raise BrowserError(f"port {port} is not a valid TCP port (0-65535)")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((address, port))
        except OSError as exc:
            reason = "already in use" if exc.errno == errno.EADDRINUSE else exc.strerror
            raise BrowserError(
                f"cannot serve on {address}:{port}: {reason}; choose another port"
            ) from None


def serve(
    browser: LimitBrowser,
    port: int = 5006,
    *,
    address: str = "127.0.0.1",
    show: bool = False,
    threaded: bool = False,
):
    """Serve the browser on a local panel server (bound to `address` only); every exposure, cut or
    thickness change re-derives the limits from the cube. Returns the server (stopped with
    .stop()); blocks unless `threaded`. The URL is server-side: http://{address}:{port}/"""
    import panel as pn

    check_port(port, address)

    def app():
        return browser.panel(from_grid=False)

    return pn.serve(
        app, port=port, address=address, show=show, threaded=threaded, title=browser.title,
        websocket_origin=[f"{address}:{port}", f"localhost:{port}"], start=True,
    )  # fmt: skip
