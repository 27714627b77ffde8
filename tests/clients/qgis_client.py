"""Drive QGIS (Debian's python3-qgis, headless) as a GIS colleague would, for tests/test_qgis_client.py.

Run with Debian's /usr/bin/python3 (QGIS's Python bindings are built for it), QT_QPA_PLATFORM=offscreen:

    python3 qgis_client.py JOB.json

JOB: {"layers": [{"uri", "provider", "name", "sld"?, "render"?}],
     "render": {"crs", "extent": [xmin, ymin, xmax, ymax], "width", "height", "png"}}.
Each layer is opened (a GeoPackage layer with the style QGIS finds in its layer_styles table, an OGC API Features
collection, a WMTS layer), described (validity, feature count, geometry type, renderer, its
categories with their colours and labels, symbol levels, feature order), and all of them are rendered bottom first
into one PNG. Prints the description as JSON.
"""

from __future__ import annotations

import json
import os
import sys

from qgis.core import (
    QgsApplication,
    QgsCoordinateReferenceSystem,
    QgsMapRendererSequentialJob,
    QgsMapSettings,
    QgsRasterLayer,
    QgsRectangle,
    QgsVectorLayer,
    QgsWkbTypes,
)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor


def describe(layer) -> dict:
    out = {"name": layer.name(), "valid": layer.isValid(), "error": layer.error().summary() if not layer.isValid()
           else ""}
    if isinstance(layer, QgsVectorLayer) and layer.isValid():
        renderer = layer.renderer()
        out.update({"features": layer.featureCount(), "geometry": QgsWkbTypes.displayString(layer.wkbType()),
                    "fields": [f.name() for f in layer.fields()], "renderer": renderer.type(),
                    "symbol_levels": renderer.usingSymbolLevels(), "order_by": renderer.orderByEnabled()
                    and renderer.orderBy().dump()})
        if renderer.type() == "categorizedSymbol":
            out["attribute"] = renderer.classAttribute()
            out["categories"] = [{"value": str(c.value()), "label": c.label(), "colour": c.symbol().color().name()}
                                 for c in renderer.categories()]
        elif renderer.type() == "RuleRenderer":
            out["rules"] = [{"label": r.label(), "filter": r.filterExpression(),
                             "colour": r.symbol().color().name() if r.symbol() else None}
                            for r in renderer.rootRule().children()]
    return out


def main(path: str) -> None:
    with open(path, encoding="utf-8") as fh:
        job = json.load(fh)
    app = QgsApplication([], False)
    app.initQgis()
    layers, described = [], []
    for spec in job["layers"]:
        if spec["provider"] == "wms":
            layer = QgsRasterLayer(spec["uri"], spec["name"], "wms")
        else:
            layer = QgsVectorLayer(spec["uri"], spec["name"], spec["provider"])
        if spec.get("sld") and layer.isValid():
            message, ok = layer.loadSldStyle(spec["sld"])
            if not ok:
                raise SystemExit(f"SLD not applied: {message}")
        layers.append(layer)
        described.append(describe(layer))
    render = job.get("render")
    if render:
        settings = QgsMapSettings()
        drawn = [lyr for lyr, spec in zip(layers, job["layers"], strict=True)
                 if lyr.isValid() and spec.get("render", True)]
        settings.setLayers(list(reversed(drawn)))         # the job lists layers bottom first; QGIS wants top first
        settings.setDestinationCrs(QgsCoordinateReferenceSystem(render["crs"]))
        settings.setExtent(QgsRectangle(*render["extent"]))
        settings.setOutputSize(QSize(render["width"], render["height"]))
        settings.setBackgroundColor(QColor(255, 255, 255))
        settings.setOutputDpi(96)
        renderer = QgsMapRendererSequentialJob(settings)
        renderer.start()
        renderer.waitForFinished()
        renderer.renderedImage().save(render["png"], "PNG")
        visible = settings.visibleExtent()
        described.append({"rendered": render["png"], "visible_extent": [visible.xMinimum(), visible.yMinimum(),
                                                                        visible.xMaximum(), visible.yMaximum()],
                          "errors": [e.message for e in renderer.errors()]})
    print(json.dumps(described, ensure_ascii=False), flush=True)
    # QGIS 3.22 may crash while tearing down its providers after a network layer: the answer is printed, so leave
    # without the teardown
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1])
