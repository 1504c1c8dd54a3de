"""Plain-numpy physics of l N -> l N chi chibar: no Dask inside, vectorised over sample points."""
