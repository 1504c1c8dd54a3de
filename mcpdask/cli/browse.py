"""`mcpdask browse STORE`: the interactive limit browser, served locally or written as standalone HTML."""

from __future__ import annotations

import sys

OVERLAY_OPTIONS = True
RECOIL_OPTIONS = True


def run(args) -> int:
    from mcpdask.cube import open_cube
    from mcpdask.views.browser import (
        VIZ_MODULES,
        LimitBrowser,
        check_port,
        require_extra,
        save_html,
        serve,
    )

    require_extra(VIZ_MODULES, "the limit browser")  # before the slow part
    if args.html is None:
        check_port(args.port)  # fail before the slow part
    overlays = args.overlays
    cube = open_cube(args.store)
    browser = LimitBrowser(cube, overlays, coarse=args.html is not None, recoil=args.recoil)
    if args.html is not None:

        def progress(msg):
            print(f"mcpdask browse: {msg}", file=sys.stderr, flush=True)

        info = save_html(browser, args.html, progress=None if args.quiet else progress)
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
        description="Browse eps_lim(m) from a stored cube: check boxes for experiment and "
        "channel, and sliders that scale each experiment's own exposure and target thickness "
        "and shift its own recoil cut, re-derive the limits (no integration). Serves on "
        "127.0.0.1, or writes a standalone offline HTML file with --html (progress on stderr).",
    )
    parser.add_argument("store", metavar="STORE", help="path of the cube (Zarr store)")
    parser.add_argument("--port", type=int, default=5006, help="local port to serve on (5006)")
    parser.add_argument(
        "--html", metavar="FILE", help="write a standalone HTML file instead of serving"
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="with --html: no progress lines on stderr"
    )
    parser.set_defaults(func=run)
    return parser
