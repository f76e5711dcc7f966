"""Turning explanations into pictures, each kind in its own module so that drawing a map
needs neither Plotly nor PyAV:

    maps.py      colour maps, scaling rules, overlays, contours, outlines, colour bars, PNG
    figures.py   the pages' Plotly charts and the reports' static chart
    media.py     browser-playable H.264 video (PyAV)

Names are imported on first use: ``render.show_map`` loads ``maps`` alone.
"""

from __future__ import annotations

from ..lazy import lazy_exports

_MAPS = ("COLORMAPS", "SAFE_COLORMAPS", "SCALINGS", "OPACITY_GAMMA", "CLASS_PALETTE", "class_colour", "MapStyle",
         "upsample", "normalise", "heatmap", "overlay", "contour", "outline", "side_by_side", "VIEWS", "render",
         "map_scale", "to_width", "colorbar", "show_map", "visibility", "write_png", "png_b64")
_FIGURES = ("timeline_figure", "TIMELINE_POINTS", "summarise", "top_windows", "temporal_figure", "probability_figure",
            "temporal_plot")
_EXPORTS = {**{n: ".maps" for n in _MAPS}, **{n: ".figures" for n in _FIGURES}, "write_video": ".media"}
__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, namespace=globals())
