"""Views of a stored cube: the interactive limit browser (browser) and static figures (figures),
with existing limits (mcpdask.references) overlaid. Imports matplotlib/hvplot/panel only when used."""
