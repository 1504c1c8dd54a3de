"""`mcpdask browse STORE`: the interactive limit browser, served locally or written as standalone HTML."""

from __future__ import annotations

import sys

OVERLAY_OPTIONS = True


def run(args) -> int:
    from mcpdask.cube import open_cube
    from mcpdask.views.browser import LimitBrowser, check_port, save_html, serve

    if args.html is None:
        check_port(args.port)  # fail before the slow part
    overlays = args.overlays
    cube = open_cube(args.store)
    browser = LimitBrowser(cube, overlays, coarse=args.html is not None)
    if args.html is not None:
        info = save_html(browser, args.html)
        print(
            f"wrote {info['path']} ({info['states']} embedded states, {info['bytes'] / 1e6:.1f} MB, "
            f"{info['seconds']:.1f} s)"
        )
        return 0
    browser.grid  # noqa: B018 - derive once before serving (ranges, and errors surface here)
    url = f"http://127.0.0.1:{args.port}/"
    print(f"mcpdask browse: serving {args.store} at {url} (Ctrl-C to stop)", flush=True)
    server = serve(browser, args.port, threaded=True)
    try:
        server.join()
    except KeyboardInterrupt:
        server.stop()
        print("mcpdask browse: stopped", file=sys.stderr)
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "browse",
        help="interactive eps limit browser (local server or standalone HTML)",
        description="Browse eps_lim(m_chi) from a stored cube: widgets for experiment, channel, "
        "exposure, recoil cut and target thickness re-derive the limits (no integration). Serves "
        "on 127.0.0.1, or writes a standalone offline HTML file with --html.",
    )
    parser.add_argument("store", metavar="STORE", help="path of the cube (Zarr store)")
    parser.add_argument("--port", type=int, default=5006, help="local port to serve on (5006)")
    parser.add_argument(
        "--html", metavar="FILE", help="write a standalone HTML file instead of serving"
    )
    parser.set_defaults(func=run)
    return parser
