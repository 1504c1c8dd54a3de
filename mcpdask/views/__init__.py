"""Views of a stored cube: the interactive limit browser (browser), static figures (figures) and
existing-limit overlays (overlays). Imports matplotlib/hvplot/panel only when used."""
