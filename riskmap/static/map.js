/* riskmap web map: tile layers from their TileJSON, legend with counts, layer control, metric scale, click
 * popups (/api/identify), search (/api/search), the workshop panel, the print link and data-version polling.
 *
 * Every name, explanation or other user text goes into the DOM with textContent, never innerHTML.
 */
(function () {
  "use strict";

  var el = window.riskmapDom.el;          // static/dom.js: user text as textContent only
  var query = window.riskmapDom.query;

  // Plain same-origin GETs, so that the page's <link rel=preload> of the TileJSONs is used. Nothing riskmap
  // answers here is cached stale: TileJSON revalidates (ETag, no-cache), the rest carries no validators.
  function getJSON(url) {
    return fetch(url).then(function (resp) {
      if (!resp.ok) {
        return resp.json().catch(function () { return {}; }).then(function (body) {
          var error = new Error(body && body.detail ? body.detail : resp.status + " " + resp.statusText);
          error.status = resp.status;
          throw error;
        });
      }
      return resp.json();
    });
  }

  function boundsOf(bbox) {  // [west, south, east, north] -> Leaflet bounds
    return bbox ? L.latLngBounds([bbox[1], bbox[0]], [bbox[3], bbox[2]]) : null;
  }

  // Layers that the "flagged units only" filter narrows (the tiles' flagged=1).
  var FLAGGABLE = ["units", "staleness"];
  // Layers a paper map can draw (riskmap.print.poster.PRINT_LAYERS): the print link passes those shown.
  var PRINTABLE = ["regions", "units", "layout", "labels", "hazards"];

  function fill(text, values) {
    return text.replace(/\{(\w+)\}/g, function (_, key) { return values[key]; });
  }

  function App(map, config) {
    this.map = map;
    this.config = config;
    this.t = config.text;
    this.version = config.data_version;
    this.tileLayers = {};      // name -> L.TileLayer
    this.tileUrls = {};        // name -> current URL template
    this.pending = 0;          // tile layers still loading
    this.lastIdentify = null;
    this.errors = [];
    this.flaggedOnly = false;
    this.flagCache = {};       // unit id -> promise of its open flags (per data version)
    this.colours = {};
    var self = this;
    config.legend.forEach(function (row) { self.colours[row.level] = row.unit_fill || row.fill; });
  }

  var EARTH_RADIUS = 6378137;

  /** A schematic drawing's own plane as a Leaflet CRS: level 0 is the plane's square (`size` drawing units from its
   * top-left corner `origin`) in one 256-pixel tile, y up, as its tile matrix numbers the tiles. */
  function planeCrs(plane) {
    var k = 256 / plane.size, ox = plane.origin[0], oy = plane.origin[1];
    return L.extend({}, L.CRS.Simple, { transformation: new L.Transformation(k, -ox * k, -k, oy * k) });
  }

  /** A lon/lat bbox of a schematic drawing (as the server answers) in its plane: [west, south, east, north]. */
  function bboxToPlane(plane, bbox) {
    function x(lon) { return lon * Math.PI / 180 * EARTH_RADIUS + plane.origin[0]; }
    function y(lat) { return Math.log(Math.tan(Math.PI / 4 + lat * Math.PI / 360)) * EARTH_RADIUS + plane.origin[1]; }
    return [x(bbox[0]), y(bbox[1]), x(bbox[2]), y(bbox[3])];
  }

  /** A point of a schematic drawing's plane as the lon/lat the server keeps it at (Web Mercator metres near 0°). */
  function planeToLonLat(plane, latlng) {
    var mx = latlng.lng - plane.origin[0], my = latlng.lat - plane.origin[1];
    var lat = (2 * Math.atan(Math.exp(my / EARTH_RADIUS)) - Math.PI / 2) * 180 / Math.PI;
    return L.latLng(lat, mx / EARTH_RADIUS * 180 / Math.PI);
  }

  App.prototype.start = function () {
    var map = this.map, self = this;
    var drawing = this.config.drawing;
    this.plane = drawing && drawing.schematic && drawing.plane ? drawing.plane : null;
    if (this.plane) {                     // a drawing with no place on the earth: a plain Cartesian map
      map.options.crs = planeCrs(this.plane);
      map.setView([this.plane.origin[1] - this.plane.size / 2, this.plane.origin[0] + this.plane.size / 2], 0,
                  { reset: true });
    }
    map.attributionControl.setPrefix("Leaflet");
    // At once, not animated: tiles requested during a zoom animation would be cancelled half-way.
    if (this.config.bounds) map.fitBounds(boundsOf(this.config.bounds), { padding: [12, 12], animate: false });
    if (!this.plane) L.control.scale({ metric: true, imperial: false, maxWidth: 160 }).addTo(map);
    this.addHeader();
    this.addSearch();
    this.addLegend();
    if (this.config.region) this.addRegionPanel();
    if (!this.config.at && this.config.urls.flags) this.addFlagFilter();
    if (!this.config.at && this.config.urls.hazards) this.addHazardList();
    map.on("click", function (e) { self.identifyAt(e.latlng); });
    map.on("moveend", function () { self.updatePrintLink(); });
    this.updatePrintLink();
    this.ready = this.addTileLayers().then(function () {
      // Once the tiles are drawn, let the server load the ledger for clicks and search.
      self.idle().then(function () {
        var url = self.config.urls.prepare + "?" + query({ enterprise: self.config.enterprise });
        return fetch(url, { method: "POST" });
      }).catch(function (err) { self.report("prepare", err); });
      if (self.config.poll_seconds > 0) {
        self.timer = window.setInterval(function () { self.checkVersion(); }, self.config.poll_seconds * 1000);
      }
      return self;
    });
    // A post card's QR code opens /map?unit=ID: fly to that unit and open its popup.
    var unitId = new URLSearchParams(window.location.search).get("unit");
    if (unitId) {
      this.ready.then(function () { return self.showItem({ kind: "unit", id: unitId }); })
        .catch(function (err) { self.report("unit", err); });
    }
    return this;
  };

  // ----------------------------------------------------------------------------------------- tiles

  App.prototype.addTileLayers = function () {
    var self = this, overlays = {};
    var loads = this.config.layers.map(function (spec) {
      return getJSON(self.tilejsonUrl(spec)).then(function (tj) {
        var layer = L.tileLayer(tj.tiles[0], {
          minZoom: 0, maxZoom: 22, maxNativeZoom: tj.maxzoom, minNativeZoom: tj.minzoom,
          bounds: tj.bounds ? self.layerBounds(tj.bounds) : undefined, zIndex: spec.z, tileSize: 256,
          className: "riskmap-tiles riskmap-tiles-" + spec.name, attribution: tj.attribution || "",
          keepBuffer: 2, updateWhenIdle: false
        });
        layer.on("loading", function () { self.pending += 1; self.busy(); });
        layer.on("load", function () { self.pending = Math.max(0, self.pending - 1); self.busy(); });
        self.tileLayers[spec.name] = layer;
        self.tileUrls[spec.name] = tj.tiles[0];
        overlays[spec.title] = layer;
        if (spec.visible) layer.addTo(self.map);
        if (["regions", "units", "staleness", "coverage", "hazards"].indexOf(spec.name) >= 0) {
          layer.on("add remove", function () { self.fillLegend(); });
        }
        layer.on("add remove", function () { self.updatePrintLink(); });
      }).catch(function (err) { self.report(spec.title, err); });
    });
    return Promise.all(loads).then(function () {
      self.fillLegend();                         // the swatch columns of the colour layers now on the map
      // Keep the control's order the page's order (bottom first), whatever order the TileJSONs arrived in.
      var ordered = {};
      self.config.layers.forEach(function (spec) {
        if (overlays[spec.title]) ordered[spec.title] = overlays[spec.title];
      });
      self.layerControl = L.control.layers(null, ordered, { collapsed: window.innerWidth < 600, position: "topright" }).addTo(self.map);
    });
  };

  /** Where a layer asks for tiles: its TileJSON bounds; on a drawing's own plane a hair inside them, so that the
   * row of tiles just beyond an edge (touching it, up to rounding) is not asked for. */
  App.prototype.layerBounds = function (bbox) {
    if (!this.plane) return boundsOf(bbox);
    var e = this.plane.size * 1e-6;
    return boundsOf([bbox[0] + e, bbox[1] + e, bbox[2] - e, bbox[3] - e]);
  };

  /** The layer's TileJSON, asking for @2x tiles on high-density screens. */
  App.prototype.tilejsonUrl = function (spec) {
    var flagged = this.flaggedOnly && FLAGGABLE.indexOf(spec.name) >= 0 ? "&flagged=1" : "";
    return spec.tilejson + flagged + (window.devicePixelRatio >= 1.5 ? "&scale=2" : "");
  };

  App.prototype.busy = function () {
    document.documentElement.setAttribute("data-riskmap-loading", String(this.pending));
  };

  /** Resolves when no visible tile layer is loading and the tiles are painted (tests, load benchmark). */
  App.prototype.idle = function () {
    var self = this;
    return this.ready.then(function () {
      return new Promise(function (resolve) {
        (function poll() {
          var loading = Object.keys(self.tileLayers).some(function (name) {
            var layer = self.tileLayers[name];
            return self.map.hasLayer(layer) && layer.isLoading();
          });
          if (loading) window.setTimeout(poll, 20);
          else window.requestAnimationFrame(function () { window.requestAnimationFrame(function () { resolve(true); }); });
        })();
      });
    });
  };

  /** Ask the server for the data version; on a change, fetch the new TileJSON URLs and redraw. */
  App.prototype.checkVersion = function () {
    var self = this;
    return getJSON(this.config.urls.version + "?" + query({ enterprise: this.config.enterprise }))
      .then(function (body) {
        if (body.data_version === self.version) return false;
        return self.refresh().then(function () { return true; });
      })
      .catch(function (err) { self.report(self.t.data_version, err); return false; });
  };

  App.prototype.refresh = function () {
    var self = this, c = this.config;
    var params = { enterprise: c.enterprise, region: c.region ? c.region.id : null, lang: c.lang };
    return getJSON(c.urls.config + "?" + query(params)).then(function (config) {
      self.config = config;
      self.version = config.data_version;
      self.flagCache = {};
      var updates = config.layers.map(function (spec) {
        var layer = self.tileLayers[spec.name];
        if (!layer) return null;
        return getJSON(self.tilejsonUrl(spec)).then(function (tj) {
          if (tj.tiles[0] !== self.tileUrls[spec.name]) {
            self.tileUrls[spec.name] = tj.tiles[0];
            layer.setUrl(tj.tiles[0]);          // new versioned URLs: no stale colour survives
          }
        });
      });
      self.fillLegend();
      if (self.regionPanel) self.fillRegionPanel();
      self.setStatus(self.t.updated + " (" + self.t.data_version + " " + self.version + ")");
      if (self.lastIdentify && self.popup && self.popup.isOpen()) {
        var popup = self.popup;
        self.identify(self.lastIdentify).then(function (body) { popup.setContent(self.popupContent(body)); });
      }
      return Promise.all(updates);
    });
  };

  // ---------------------------------------------------------------------------------------- header

  App.prototype.addHeader = function () {
    var self = this, c = this.config, t = this.t;
    var Header = L.Control.extend({
      onAdd: function () {
        var box = el("div", "riskmap-header riskmap-box");
        self.headerBox = box;
        L.DomEvent.disableClickPropagation(box);
        box.appendChild(el("div", "riskmap-enterprise", c.enterprise));
        var view = c.region ? t.workshop + "：" + c.region.name : t.plan;
        if (c.drawing && c.drawing.key !== "site") view = c.drawing.label + (c.region ? "：" + c.region.name : "");
        box.appendChild(el("div", "riskmap-view", view + " · " + t.title));
        if (c.drawing && c.drawing.schematic) box.appendChild(el("div", "riskmap-muted", t.schematic_note));
        self.addDrawingSwitch(box);
        var links = el("div", "riskmap-links");
        links.appendChild(window.riskmapDom.langLink("riskmap-lang", t.switch_lang, c.lang));
        self.printLink = el("a", "riskmap-print", t.print);
        self.printLink.target = "_blank";
        self.printLink.rel = "noopener";
        links.appendChild(self.printLink);
        if (c.region) {
          var back = el("a", "riskmap-back", t.whole_plant);
          back.href = c.urls.map + "?" + query({ enterprise: c.enterprise, lang: c.lang, at: c.at });
          links.appendChild(back);
        }
        if (c.urls.edit && !c.at) {                  // each drawing has its editor, the site plan's included
          var edit = el("a", "riskmap-edit-link", t.edit);
          var onDrawing = c.drawing && c.drawing.key !== "site" ? { drawing: c.drawing.key } : {};
          edit.href = c.urls.edit + "?" + query(Object.assign({ enterprise: c.enterprise, lang: c.lang }, onDrawing));
          links.appendChild(edit);
        }
        box.appendChild(links);
        if (c.at) {
          var banner = el("div", "riskmap-historical");
          banner.setAttribute("role", "note");
          banner.appendChild(el("span", null, fill(t.historical, { at: c.at_local || c.at })));
          var now = new URLSearchParams(window.location.search);
          now.delete("at");
          var nowLink = el("a", "riskmap-now", t.back_to_now);
          nowLink.href = window.location.pathname + "?" + now.toString();
          banner.appendChild(document.createTextNode(" "));
          banner.appendChild(nowLink);
          box.appendChild(banner);
        }
        self.status = el("div", "riskmap-status");
        self.status.setAttribute("role", "status");
        box.appendChild(self.status);
        return box;
      }
    });
    new Header({ position: "topright" }).addTo(this.map);
  };

  /** The drawing a link opens: this page's address with another `drawing` (the site plan: none). */
  App.prototype.drawingHref = function (key) {
    var c = this.config;
    var params = { enterprise: c.enterprise, lang: c.lang, at: c.at };
    if (key && key !== "site") params.drawing = key;
    return c.urls.map + "?" + query(params);
  };

  /** A drawing switcher (every drawing of the plant) and, on a storey, the storeys of its building, as indoor
   * maps show them (highest on top). Switching loads the other drawing's page. */
  App.prototype.addDrawingSwitch = function (box) {
    var c = this.config, t = this.t, self = this;
    if (!c.drawings || c.drawings.length < 2) return;
    var row = el("div", "riskmap-drawings");
    var label = el("label", null, t.drawing + " ");
    var select = el("select", "riskmap-drawing-select");
    select.setAttribute("aria-label", t.drawing);
    c.drawings.forEach(function (d) {
      var option = el("option", null, d.label);
      option.value = d.key;
      if (c.drawing && d.key === c.drawing.key) option.selected = true;
      select.appendChild(option);
    });
    select.addEventListener("change", function () { window.location.href = self.drawingHref(select.value); });
    label.appendChild(select);
    row.appendChild(label);
    box.appendChild(row);
    if (c.storeys && c.storeys.length) {
      var storeys = el("div", "riskmap-storeys");
      storeys.setAttribute("role", "group");
      storeys.setAttribute("aria-label", t.storeys);
      c.storeys.slice().sort(function (a, b) { return b.storey_order - a.storey_order; }).forEach(function (d) {
        var a = el("a", "riskmap-storey" + (d.key === c.drawing.key ? " riskmap-storey-current" : ""), d.storey);
        a.href = self.drawingHref(d.key);
        a.title = d.label;
        if (d.key === c.drawing.key) a.setAttribute("aria-current", "page");
        storeys.appendChild(a);
      });
      var site = el("a", "riskmap-storey riskmap-storey-site", t.plan);
      site.href = self.drawingHref("site");
      storeys.appendChild(site);
      box.appendChild(storeys);
    }
  };

  App.prototype.setStatus = function (text) {
    if (this.status) this.status.textContent = text || "";
  };

  App.prototype.report = function (what, err) {
    this.errors.push(String(what) + ": " + (err && err.message ? err.message : err));
    this.setStatus(this.t.error + "：" + what + " — " + (err && err.message ? err.message : err));
  };

  /** The printable layers on the map now (before their tiles arrive: those the page shows at start). */
  App.prototype.shownLayers = function () {
    var self = this;
    return this.config.layers.filter(function (spec) {
      if (PRINTABLE.indexOf(spec.name) < 0) return false;
      var layer = self.tileLayers[spec.name];
      return layer ? self.map.hasLayer(layer) : spec.visible;
    }).map(function (spec) { return spec.name; });
  };

  /** "Print this view": the view's extent and the layers shown, for the server to fit on the paper. */
  App.prototype.updatePrintLink = function () {
    if (!this.printLink) return;
    var b = this.map.getBounds();
    var sw = b.getSouthWest(), ne = b.getNorthEast();
    if (this.plane) { sw = planeToLonLat(this.plane, sw); ne = planeToLonLat(this.plane, ne); }
    var bbox = [sw.lng, sw.lat, ne.lng, ne.lat].map(function (v) { return v.toFixed(this.plane ? 10 : 7); }, this);
    this.printLink.href = this.config.urls.print + "?" + query({ bbox: bbox.join(","), layers: this.shownLayers().join(","),
                                                                enterprise: this.config.enterprise, at: this.config.at,
                                                                drawing: this.drawingParam() });
  };

  // ---------------------------------------------------------------------------------------- legend

  App.prototype.swatch = function (level) {
    var box = el("span", "riskmap-swatch");
    var none = (this.config.unassessed_fill || {}).units || "#BDBDBD";
    box.style.backgroundColor = level && this.colours[level] ? this.colours[level] : none;
    return box;
  };

  /** A level's name in the page language, from the palette (the legend), whatever the answer carried. */
  App.prototype.levelName = function (row) {
    var level = row && row.level, zh = this.config.lang === "zh";
    var found = this.config.legend.filter(function (entry) { return entry.level === level; })[0];
    return found ? (zh ? found.zh : found.en) : this.t.unassessed;
  };

  App.prototype.addLegend = function () {
    var self = this;
    var Legend = L.Control.extend({
      onAdd: function () {
        self.legendBox = el("div", "riskmap-legend riskmap-box");
        self.legendBox.setAttribute("aria-label", self.t.legend);
        self.fillLegend();
        return self.legendBox;
      }
    });
    new Legend({ position: "bottomright" }).addTo(this.map);
  };

  /** Which colour layers are on the map now (the legend shows a swatch column for each, in its own colours). */
  App.prototype.shownColourLayers = function () {
    var self = this;
    return ["regions", "units"].filter(function (name) {
      var layer = self.tileLayers[name];
      return layer && self.map.hasLayer(layer);
    });
  };

  App.prototype.fillLegend = function () {
    var box = this.legendBox, c = this.config, t = this.t, self = this;
    if (!box) return;
    box.textContent = "";
    box.appendChild(el("div", "riskmap-legend-title", t.legend + " · " + t.level));
    // Each swatch is exactly the colour its layer paints: regions in their tint, units in the full colour.
    var shown = this.shownColourLayers();
    var columns = shown.length ? shown : ["regions"];
    var table = el("table");
    var head = el("tr", "riskmap-legend-head");
    head.appendChild(el("td", "riskmap-legend-name", ""));
    columns.forEach(function (name) { head.appendChild(el("td", "riskmap-legend-count", t[name])); });
    table.appendChild(head);
    function cell(fill, count, name) {
      var td = el("td", "riskmap-legend-count");
      var sw = el("span", "riskmap-swatch");
      sw.style.backgroundColor = fill || "transparent";
      sw.setAttribute("data-layer", name);
      td.appendChild(sw);
      if (count !== null && count !== undefined) td.appendChild(document.createTextNode(String(count)));
      return td;
    }
    c.legend.forEach(function (row) {
      var tr = el("tr", "riskmap-legend-row");
      tr.setAttribute("data-level", row.level);
      tr.appendChild(el("td", "riskmap-legend-name", c.lang === "zh" ? row.zh : row.en));
      columns.forEach(function (name) {
        tr.appendChild(cell(name === "regions" ? row.region_fill : row.unit_fill,
                            name === "regions" ? row.regions : row.units, name));
      });
      table.appendChild(tr);
    });
    var un = c.unassessed || {}, unFill = c.unassessed_fill || {};
    if ((un.regions || 0) + (un.units || 0) > 0) {
      var tr = el("tr", "riskmap-legend-row");
      tr.setAttribute("data-level", "none");
      tr.appendChild(el("td", "riskmap-legend-name", t.unassessed));
      columns.forEach(function (name) { tr.appendChild(cell(unFill[name], un[name], name)); });
      table.appendChild(tr);
    }
    box.appendChild(table);
    var stale = this.tileLayers.staleness;
    if (stale && this.map.hasLayer(stale) && c.staleness_legend && c.staleness_legend.length) {
      box.appendChild(el("div", "riskmap-legend-title riskmap-staleness-title", t.staleness));
      var st = el("table", "riskmap-staleness-legend");
      c.staleness_legend.forEach(function (row) {
        var tr = el("tr", "riskmap-legend-row");
        tr.setAttribute("data-bucket", row.key);
        var td = el("td"), sw = el("span", "riskmap-swatch");
        sw.style.backgroundColor = row.fill || "transparent";
        if (row.outline) sw.style.borderColor = row.outline;
        if (!row.fill && row.outline) sw.style.borderWidth = "2px";
        td.appendChild(sw);
        tr.appendChild(td);
        tr.appendChild(el("td", "riskmap-legend-name", c.lang === "zh" ? row.zh : row.en));
        st.appendChild(tr);
      });
      box.appendChild(st);
    }
    // the emergency features drawn on the layout (neutral: shape and mark) and the hazard symbols (magenta, white,
    // grey, black: never a risk colour), each row with the symbol the tiles themselves draw
    this.symbolLegend(box, "layout", c.emergency_legend, t.emergency_legend, "emergency", "data-role", 18);
    this.symbolLegend(box, "hazards", c.hazard_legend, t.hazard_legend, "hazard", "data-hazard", 22);
    this.symbolLegend(box, "coverage", c.coverage_legend, t.coverage_legend, "coverage", "data-coverage-state", 18);
    box.appendChild(el("div", "riskmap-legend-version", t.data_version + " " + c.data_version));
  };

  /** A legend section of symbols (rows of {key, image, zh, en}) while the layer that draws them is shown. */
  App.prototype.symbolLegend = function (box, layerName, rows, title, kind, attribute, height) {
    var layer = this.tileLayers[layerName], lang = this.config.lang;
    if (!layer || !this.map.hasLayer(layer) || !rows || !rows.length) return;
    box.appendChild(el("div", "riskmap-legend-title riskmap-" + kind + "-title", title));
    var table = el("table", "riskmap-" + kind + "-legend");
    rows.forEach(function (row) {
      var tr = el("tr", "riskmap-legend-row");
      tr.setAttribute(attribute, row.key);
      var td = el("td"), img = el("img", "riskmap-symbol");
      img.src = row.image;
      img.alt = "";
      img.width = 28;
      img.height = height;
      td.appendChild(img);
      tr.appendChild(td);
      tr.appendChild(el("td", "riskmap-legend-name", lang === "zh" ? row.zh : row.en));
      table.appendChild(tr);
    });
    box.appendChild(table);
  };

  // ------------------------------------------------------------------------ hazard list

  var OPEN_STATES = ["reported", "confirmed", "assigned", "rectifying", "awaiting_acceptance"];

  /** The "open hazards" switch and, when on, the list beside the map: a click flies to the hazard and opens what
   * is there (its popup lists the hazards under the point). */
  App.prototype.addHazardList = function () {
    var self = this;
    var Panel = L.Control.extend({
      onAdd: function () {
        var box = el("div", "riskmap-hazards riskmap-box");
        L.DomEvent.disableClickPropagation(box);
        L.DomEvent.disableScrollPropagation(box);
        var label = el("label", "riskmap-hazard-switch");
        var input = el("input");
        input.type = "checkbox";
        input.className = "riskmap-hazard-list-on";
        label.appendChild(input);
        label.appendChild(el("span", null, " " + self.t.hazards_list));
        box.appendChild(label);
        self.hazardList = el("div", "riskmap-hazard-list");
        box.appendChild(self.hazardList);
        input.addEventListener("change", function () {
          if (input.checked) self.loadHazardList(); else self.hazardList.textContent = "";
        });
        return box;
      }
    });
    new Panel({ position: "topleft" }).addTo(this.map);
  };

  App.prototype.loadHazardList = function () {
    var self = this, t = this.t, box = this.hazardList, c = this.config;
    box.textContent = t.loading;
    var url = c.urls.hazards + "?" + query({ enterprise: c.enterprise }) + "&" +
      OPEN_STATES.map(function (s) { return "state=" + s; }).join("&");
    return getJSON(url).then(function (body) {
      var items = body.items || [];
      box.textContent = "";
      box.appendChild(el("div", "riskmap-panel-sub", t.hazards_list + " (" + items.length + ")"));
      if (!items.length) { box.appendChild(el("div", "riskmap-muted", t.hazards_none)); return items; }
      var list = el("ul", "riskmap-unit-list riskmap-hazard-items");
      items.slice(0, 200).forEach(function (h) {
        var li = el("li"), a = el("a");
        a.href = "#";
        a.setAttribute("data-hazard-id", h.id);
        a.appendChild(el("span", "riskmap-hazard-name", h.name));
        var pick = function (label) { var p = String(label || "").split(" / "); return c.lang === "zh" ? p[0] : p[p.length - 1]; };
        var bits = [pick(h.level_label), pick(h.state_label)];
        if (h.overdue) bits.push(t.hazard_overdue);
        a.appendChild(el("span", "riskmap-muted", " " + bits.join(" · ")));
        a.addEventListener("click", function (ev) { ev.preventDefault(); self.showHazard(h); });
        li.appendChild(a);
        list.appendChild(li);
      });
      box.appendChild(list);
      if (items.length > 200) box.appendChild(el("div", "riskmap-muted", fill(t.more_results, { n: items.length - 200 })));
      return items;
    }).catch(function (err) { box.textContent = ""; self.report(t.hazards_list, err); return []; });
  };

  App.prototype.showHazard = function (h) {
    var g = h.location, self = this;
    if (!g || this.plane) { if (h.unit_id) this.showItem({ kind: "unit", id: h.unit_id }); return; }
    var xy = g.type === "Point" ? g.coordinates : (g.type === "Polygon" ? g.coordinates[0][0] : null);
    if (!xy) return;
    var latlng = L.latLng(xy[1], xy[0]);
    this.map.setView(latlng, Math.max(this.map.getZoom(), 19));
    this.map.once("moveend", function () { self.identifyAt(latlng); });
  };

  // ------------------------------------------------------------------------ re-assessment flags

  /** The "flagged units only" switch and, when on, the list of flagged units with their reasons. */
  App.prototype.addFlagFilter = function () {
    var self = this;
    var Filter = L.Control.extend({
      onAdd: function () {
        var box = el("div", "riskmap-flags riskmap-box");
        L.DomEvent.disableClickPropagation(box);
        L.DomEvent.disableScrollPropagation(box);
        var label = el("label", "riskmap-flag-switch");
        var input = el("input");
        input.type = "checkbox";
        input.className = "riskmap-flagged-only";
        label.appendChild(input);
        label.appendChild(el("span", null, " " + self.t.flagged_only));
        box.appendChild(label);
        self.flagList = el("div", "riskmap-flag-list");
        box.appendChild(self.flagList);
        input.addEventListener("change", function () { self.setFlaggedOnly(input.checked); });
        return box;
      }
    });
    new Filter({ position: "topleft" }).addTo(this.map);
  };

  App.prototype.setFlaggedOnly = function (on) {
    var self = this;
    this.flaggedOnly = !!on;
    var updates = this.config.layers.filter(function (spec) {
      return FLAGGABLE.indexOf(spec.name) >= 0 && self.tileLayers[spec.name];
    }).map(function (spec) {
      return getJSON(self.tilejsonUrl(spec)).then(function (tj) {
        var layer = self.tileLayers[spec.name];
        self.tileUrls[spec.name] = tj.tiles[0];
        layer.setUrl(tj.tiles[0]);
        if (on && spec.name === "units" && !self.map.hasLayer(layer)) layer.addTo(self.map);
      }).catch(function (err) { self.report(spec.title, err); });
    });
    var list = on ? this.loadFlagList() : Promise.resolve(this.flagList.textContent = "");
    return Promise.all([Promise.all(updates), list]);
  };

  App.prototype.reasonText = function (flag) {
    var reason = flag.reason;
    if (reason && typeof reason === "object") reason = this.config.lang === "zh" ? reason.zh : reason.en;
    return reason || flag.reason_code || "";
  };

  App.prototype.loadFlagList = function () {
    var self = this, t = this.t, box = this.flagList;
    box.textContent = t.loading;
    return getJSON(this.config.urls.flags + "?" + query({ enterprise: this.config.enterprise })).then(function (body) {
      var flags = Array.isArray(body) ? body : (body.items || []);
      box.textContent = "";
      box.appendChild(el("div", "riskmap-panel-sub", t.flags_title + " (" + flags.length + ")"));
      if (!flags.length) { box.appendChild(el("div", "riskmap-muted", t.flags_none)); return flags; }
      var list = el("ul", "riskmap-unit-list riskmap-flag-units");
      flags.slice(0, 300).forEach(function (flag) {
        var li = el("li");
        var a = el("a");
        a.href = "#";
        a.setAttribute("data-id", flag.unit_id);
        a.appendChild(el("span", "riskmap-flag-unit", flag.unit_name || flag.unit_id));
        a.appendChild(el("span", "riskmap-muted", " " + self.reasonText(flag)));
        a.addEventListener("click", function (ev) { ev.preventDefault(); self.showItem({ kind: "unit", id: flag.unit_id }); });
        li.appendChild(a);
        list.appendChild(li);
      });
      box.appendChild(list);
      if (flags.length > 300) box.appendChild(el("div", "riskmap-muted", fill(t.more_results, { n: flags.length - 300 })));
      return flags;
    }).catch(function (err) { box.textContent = ""; self.report(t.flags_title, err); return []; });
  };

  /** A unit's open re-assessment flags (asked once per unit and data version). */
  App.prototype.flagsOf = function (unitId) {
    if (this.config.at || !this.config.urls.flags) return Promise.resolve([]);
    if (!this.flagCache[unitId]) {
      var url = this.config.urls.flags + "?" + query({ enterprise: this.config.enterprise, unit: unitId });
      this.flagCache[unitId] = getJSON(url).then(function (body) {
        return Array.isArray(body) ? body : (body.items || []);
      }).catch(function () { return []; });
    }
    return this.flagCache[unitId];
  };

  // ------------------------------------------------------------------------------- workshop panel

  App.prototype.addRegionPanel = function () {
    var self = this;
    var Panel = L.Control.extend({
      onAdd: function () {
        self.regionPanel = el("div", "riskmap-panel riskmap-box");
        L.DomEvent.disableClickPropagation(self.regionPanel);
        L.DomEvent.disableScrollPropagation(self.regionPanel);
        self.fillRegionPanel();
        return self.regionPanel;
      }
    });
    new Panel({ position: "bottomleft" }).addTo(this.map);
  };

  App.prototype.fillRegionPanel = function () {
    var panel = this.regionPanel, region = this.config.region, t = this.t, self = this;
    if (!panel || !region) return;
    panel.textContent = "";
    var head = el("div", "riskmap-panel-title");
    head.appendChild(this.swatch(region.level));
    head.appendChild(el("span", null, region.name + " · " + this.levelName(region)));
    panel.appendChild(head);
    panel.appendChild(el("div", "riskmap-explanation", region.explanation));
    panel.appendChild(el("div", "riskmap-panel-sub", t.units_in_region + " (" + region.units.length + ")"));
    var list = el("ul", "riskmap-unit-list");
    region.units.forEach(function (unit) {
      var li = el("li");
      var a = el("a");
      a.href = "#";
      a.appendChild(self.swatch(unit.level));
      a.appendChild(el("span", null, unit.name));
      a.appendChild(el("span", "riskmap-muted", " " + self.levelName(unit)));
      a.addEventListener("click", function (ev) { ev.preventDefault(); self.showItem({ kind: "unit", id: unit.id }); });
      li.appendChild(a);
      list.appendChild(li);
    });
    panel.appendChild(list);
  };

  // ---------------------------------------------------------------------------------------- search

  App.prototype.addSearch = function () {
    var self = this;
    var Search = L.Control.extend({
      onAdd: function () {
        var box = el("div", "riskmap-search riskmap-box");
        self.searchBox = box;
        L.DomEvent.disableClickPropagation(box);
        L.DomEvent.disableScrollPropagation(box);
        var input = el("input");
        input.type = "search";
        input.placeholder = self.t.search;
        input.setAttribute("aria-label", self.t.search);
        var results = el("ul", "riskmap-results");
        box.appendChild(input);
        box.appendChild(results);
        self.searchInput = input;
        self.searchResults = results;
        var timer = null;
        input.addEventListener("input", function () {
          window.clearTimeout(timer);
          timer = window.setTimeout(function () { self.search(input.value); }, 200);
        });
        input.addEventListener("keydown", function (ev) {
          if (ev.key === "Enter") {
            ev.preventDefault();
            window.clearTimeout(timer);
            self.search(input.value).then(function (found) { if (found && found[0]) self.showItem(found[0]); });
          } else if (ev.key === "Escape") {
            results.textContent = "";
          }
        });
        return box;
      }
    });
    new Search({ position: "topleft" }).addTo(this.map);
  };

  App.prototype.search = function (text) {
    var self = this, results = this.searchResults, t = this.t;
    text = (text || "").trim();
    if (!text) { results.textContent = ""; return Promise.resolve([]); }
    var url = this.config.urls.search + "?" + query({ q: text, enterprise: this.config.enterprise, limit: 20,
                                                      at: this.config.at, drawing: this.drawingParam() });
    return getJSON(url).then(function (body) {
      results.textContent = "";
      if (!body.results.length) {
        results.appendChild(el("li", "riskmap-muted", t.no_results));
        return [];
      }
      body.results.forEach(function (item) {
        var li = el("li", "riskmap-result");
        var a = el("a");
        a.href = "#";
        a.setAttribute("data-id", item.id);
        a.appendChild(self.swatch(item.level));
        a.appendChild(el("span", "riskmap-result-name", item.name));
        var meta = (item.kind === "region" ? t.region : t.unit) + " · " + self.levelName(item);
        if (item.path && item.path.length) meta += " · " + item.path.join(" › ");
        a.appendChild(el("span", "riskmap-muted", " " + meta));
        a.addEventListener("click", function (ev) { ev.preventDefault(); self.showItem(item); });
        li.appendChild(a);
        results.appendChild(li);
      });
      if (body.total > body.results.length) {
        results.appendChild(el("li", "riskmap-muted", fill(t.more_results, { n: body.total - body.results.length })));
      }
      return body.results;
    }).catch(function (err) { self.report(t.search, err); return []; });
  };

  /** Fly to a region or unit, outline it and open its popup. */
  App.prototype.showItem = function (item) {
    var params = item.kind === "region" ? { region: item.id } : { unit: item.id };
    var self = this;
    return this.identify(params).then(function (body) {
      var found = item.kind === "region" ? body.regions[0] : body.units[0];
      var bbox = found && found.bbox ? (self.plane ? bboxToPlane(self.plane, found.bbox) : found.bbox) : null;
      var box = bbox ? boundsOf(bbox) : null;
      if (box) {
        self.map.fitBounds(box, { maxZoom: self.plane ? 22 : 19, padding: [40, 40], animate: false });
        self.highlight(box);
        self.openPopup(box.getCenter(), body);
      } else {
        self.openPopup(self.map.getCenter(), body);
      }
      return body;
    });
  };

  App.prototype.highlight = function (box) {
    var self = this;
    if (this.marked) this.map.removeLayer(this.marked);
    this.marked = L.rectangle(box.pad(0.05), { color: "#000", weight: 2, dashArray: "6 4", fill: false,
                                               interactive: false }).addTo(this.map);
    this.map.once("popupclose", function () {
      if (self.marked) { self.map.removeLayer(self.marked); self.marked = null; }
    });
  };

  // -------------------------------------------------------------------------------------- identify

  App.prototype.identifyAt = function (latlng) {
    var self = this;
    var at = this.plane ? planeToLonLat(this.plane, latlng) : latlng;
    // on a plane, the click tolerance is asked for at the Web Mercator zoom the plane's level stands for
    var zoom = this.map.getZoom() + (this.plane ? this.plane.zoom : 0);
    var params = { lon: at.lng.toFixed(10), lat: at.lat.toFixed(10), zoom: Math.min(26, zoom) };
    return this.identify(params).then(function (body) { self.openPopup(latlng, body); return body; });
  };

  App.prototype.identify = function (params) {
    var c = this.config, self = this;
    this.lastIdentify = params;
    var all = Object.assign({ enterprise: c.enterprise, at: c.at, drawing: this.drawingParam(),
                              coverage: this.coverageOn() ? "today" : null }, params);
    return getJSON(c.urls.identify + "?" + query(all)).catch(function (err) {
      self.report(self.t.explanation, err);
      return { regions: [], units: [], units_total: 0, error: err.message };
    });
  };

  /** Whether the inspection-coverage layer is on the map (a click then also asks for the units' checks). */
  App.prototype.coverageOn = function () {
    var layer = this.tileLayers.coverage;
    return !!(layer && this.map.hasLayer(layer));
  };

  /** The coverage of a unit: its state today, the last check (when, who, result) and the next due check (task,
   * window), and its checkpoint when it has a plate. Text goes in with textContent (el). */
  App.prototype.coverageSection = function (cov) {
    var t = this.t, zh = this.config.lang === "zh";
    var sec = el("section", "riskmap-popup-coverage");
    sec.setAttribute("data-coverage-unit", cov.unit_id);
    sec.setAttribute("data-coverage", cov.coverage);
    var h = el("h4", null, t.coverage_here + "：");
    h.appendChild(el("span", "riskmap-coverage-state", zh ? cov.coverage_zh : cov.coverage_en));
    sec.appendChild(h);
    var dl = el("dl");
    function when(iso) { return String(iso || "").replace("T", " ").slice(0, 16); }
    var last = cov.last_check;
    if (last) {
      var bits = [when(last.checked_at), last.person, zh ? last.check_status_zh : last.check_status_en];
      if (last.late) bits.push(t.late);
      this.row(dl, t.last_check, bits.join(" · ") + " — " + last.task);
    } else {
      this.row(dl, t.last_check, t.no_check_yet);
    }
    var next = cov.next_due;
    if (next) {
      this.row(dl, t.next_due, next.task + "（" + next.cadence + "）· " + when(next.start) + " – " + when(next.end) +
               " · " + (zh ? next.state_zh : next.state_en));
    } else {
      this.row(dl, t.next_due, t.nothing_due);
    }
    if (cov.checkpoint) this.row(dl, t.checkpoint, t.checkpoint_issued + " " + when(cov.checkpoint.issued_at));
    sec.appendChild(dl);
    var dds = dl.querySelectorAll("dd");
    if (dds[0]) dds[0].className = "riskmap-last-check";
    if (dds[1]) dds[1].className = "riskmap-next-due";
    return sec;
  };

  /** The `drawing` parameter of this page's calls (none on the site plan). */
  App.prototype.drawingParam = function () {
    var d = this.config.drawing;
    return d && d.key !== "site" ? d.key : null;
  };

  App.prototype.openPopup = function (latlng, body) {
    var content = this.popupContent(body);
    // The popup is panned clear of the header and search box above it (on a phone they span the width).
    var top = 20;
    [this.headerBox, this.searchBox].forEach(function (box) {
      if (box) top = Math.max(top, box.getBoundingClientRect().bottom - this.map.getContainer().getBoundingClientRect().top + 10);
    }, this);
    var narrow = this.map.getSize().x < 600;
    this.popup = L.popup({ maxWidth: narrow ? this.map.getSize().x - 40 : 420, minWidth: narrow ? 200 : 260,
                           maxHeight: 420, autoPanPaddingTopLeft: [20, narrow ? top : 20],
                           autoPanPaddingBottomRight: [20, 20], className: "riskmap-popup" })
      .setLatLng(latlng).setContent(content).openOn(this.map);
    return this.popup;
  };

  App.prototype.row = function (dl, label, value) {
    if (value === undefined || value === null || value === "" || (Array.isArray(value) && !value.length)) return;
    dl.appendChild(el("dt", null, label));
    dl.appendChild(el("dd", null, Array.isArray(value) ? value.join("、") : value));
  };

  App.prototype.popupContent = function (body) {
    var root = el("div", "riskmap-popup-body"), t = this.t, self = this, c = this.config;
    if (body.error) root.appendChild(el("div", "riskmap-error", t.error + "：" + body.error));
    var covered = {};
    (body.coverage || []).forEach(function (cov) { covered[cov.unit_id] = cov; });
    var unitSections = body.units.map(function (unit) {
      var sec = self.unitSection(unit);
      var cov = covered[unit.id];       // with the coverage layer on: the unit's checks, under its heading
      if (cov) sec.insertBefore(self.coverageSection(cov), sec.children[1] || null);
      return sec;
    });
    // a unit asked for, or the coverage layer on (its checks are what the click is about): the units first
    var unitsFirst = body.focus === "unit" || !!(body.coverage && body.coverage.length);
    if (unitsFirst) unitSections.forEach(function (sec) { root.appendChild(sec); });
    body.regions.forEach(function (region) {
      var sec = el("section", "riskmap-popup-region");
      sec.setAttribute("data-region-id", region.id);
      var h = el("h3");
      h.appendChild(self.swatch(region.level));
      h.appendChild(el("span", "riskmap-popup-name", region.name));
      h.appendChild(el("span", "riskmap-popup-level", self.levelName(region)));
      sec.appendChild(h);
      sec.appendChild(el("div", "riskmap-muted", t.region + " " + region.id));
      var dl = el("dl");
      self.row(dl, t.explanation, region.explanation);
      self.row(dl, t.decided_by, region.decided_by);
      if (region.deciding_event) self.row(dl, t.deciding_event, region.deciding_event.name);
      if (region.rule) self.row(dl, t.rule, c.lang === "zh" ? region.rule.zh : region.rule.en);
      self.row(dl, t.members, region.members);
      self.row(dl, t.oldest_assessed, region.last_assessed);
      sec.appendChild(dl);
      if (!c.region || c.region.id !== region.id) {
        var link = el("a", "riskmap-workshop-link", t.open_workshop);
        link.href = c.urls.map + "?" + query({ enterprise: c.enterprise, region: region.id, lang: c.lang, at: c.at });
        sec.appendChild(link);
      }
      root.appendChild(sec);
    });
    if (!unitsFirst) unitSections.forEach(function (sec) { root.appendChild(sec); });
    if (body.units_total > body.units.length) {
      root.appendChild(el("div", "riskmap-muted", fill(t.more_units, { n: body.units_total - body.units.length })));
    }
    if (body.storeys && body.storeys.length) {            // a building of the site plan: open its storeys
      var storeys = el("section", "riskmap-popup-storeys");
      storeys.appendChild(el("h4", null, t.storeys));
      body.storeys.forEach(function (d) {
        var a = el("a", "riskmap-storey", d.storey || d.label);
        a.href = self.drawingHref(d.key);
        a.title = d.label;
        storeys.appendChild(a);
      });
      root.insertBefore(storeys, root.firstChild);
    }
    if (body.hazards && body.hazards.length) {             // hazards under the click, nearest first, on top
      var hz = el("section", "riskmap-popup-hazards");
      hz.appendChild(el("h4", null, t.hazards_here));
      var list = el("ul");
      body.hazards.forEach(function (h) {
        var li = el("li", "riskmap-popup-hazard");
        li.setAttribute("data-hazard-id", h.id);
        li.appendChild(el("strong", null, h.name));
        var state = c.lang === "zh" ? h.state_zh : h.state_en;
        var level = h.level === 1 ? (c.lang === "zh" ? "重大" : "major") : (c.lang === "zh" ? "一般" : "general");
        var bits = [level, state];
        if (h.overdue) bits.push(t.hazard_overdue);
        if (h.deadline) bits.push(h.deadline);
        li.appendChild(el("span", "riskmap-muted", " " + bits.join(" · ")));
        list.appendChild(li);
      });
      hz.appendChild(list);
      root.insertBefore(hz, root.firstChild);
    }
    if (!body.regions.length && !body.units.length && !(body.hazards && body.hazards.length) && !body.error) {
      root.appendChild(el("div", "riskmap-muted", t.nothing_here));
    }
    return root;
  };

  App.prototype.unitSection = function (unit) {
    var t = this.t, self = this;
    var sec = el("section", "riskmap-popup-unit");
    sec.setAttribute("data-unit-id", unit.id);
    var h = el("h4");
    h.appendChild(this.swatch(unit.level));
    h.appendChild(el("span", "riskmap-popup-name", unit.name));
    h.appendChild(el("span", "riskmap-popup-level", this.levelName(unit)));
    sec.appendChild(h);
    var dl = el("dl");
    this.row(dl, t.kind, (this.config.lang === "zh" ? unit.unit_kind_zh : unit.unit_kind) + " · " + unit.id);
    this.row(dl, t.path, unit.path && unit.path.length ? unit.path.join(" › ") : null);
    this.row(dl, t.explanation, unit.explanation);
    this.row(dl, t.department, unit.department);
    this.row(dl, t.responsible, unit.responsible_people);
    this.row(dl, t.last_assessed, unit.last_assessed);
    sec.appendChild(dl);
    var flagBox = el("div", "riskmap-unit-flags");
    sec.appendChild(flagBox);
    this.flagsOf(unit.id).then(function (flags) {
      if (!flags.length) return;
      flagBox.appendChild(el("div", "riskmap-flag-title", t.flags));
      var fl = el("ul", "riskmap-flag-reasons");
      flags.forEach(function (flag) {
        var li = el("li", null, self.reasonText(flag));
        li.setAttribute("data-reason", flag.reason_code || "");
        fl.appendChild(li);
      });
      flagBox.appendChild(fl);
    });
    if (unit.events && unit.events.length) {
      var details = el("details", "riskmap-events");
      details.appendChild(el("summary", null, t.events + " (" + unit.events.length + ")"));
      var list = el("ol");
      unit.events.forEach(function (ev) {
        var li = el("li");
        var head = el("div", "riskmap-event-head");
        head.appendChild(self.swatch(ev.level));
        head.appendChild(el("strong", null, ev.name));
        head.appendChild(el("span", "riskmap-popup-level", self.levelName(ev)));
        li.appendChild(head);
        var edl = el("dl");
        self.row(edl, t.evaluation, ev.evaluation);
        self.row(edl, t.accident_type, ev.accident_type);
        li.appendChild(edl);
        if (ev.controls && ev.controls.length) {
          li.appendChild(el("div", "riskmap-muted", t.controls));
          var cl = el("ul", "riskmap-controls");
          ev.controls.forEach(function (ctl) {
            var who = [ctl.department, ctl.person].filter(Boolean).join(" ");
            cl.appendChild(el("li", null, ctl.description + (who ? "（" + who + "）" : "")));
          });
          li.appendChild(cl);
        }
        if (ev.emergency_measures) {
          var em = el("dl");
          self.row(em, t.emergency, ev.emergency_measures);
          li.appendChild(em);
        }
        list.appendChild(li);
      });
      details.appendChild(list);
      sec.appendChild(details);
    }
    if (unit.children && unit.children.length) {
      sec.appendChild(el("div", "riskmap-muted", t.children + " (" + unit.children_total + ")"));
      var ul = el("ul", "riskmap-unit-list");
      unit.children.forEach(function (child) {
        var li = el("li");
        var a = el("a");
        a.href = "#";
        a.appendChild(self.swatch(child.level));
        a.appendChild(el("span", null, child.name));
        a.addEventListener("click", function (ev) { ev.preventDefault(); self.showItem({ kind: "unit", id: child.id }); });
        li.appendChild(a);
        ul.appendChild(li);
      });
      sec.appendChild(ul);
    }
    return sec;
  };

  window.RiskMap = {
    start: function (map, configElement) {
      var config = JSON.parse(configElement.textContent);
      var app = new App(map, config).start();
      window.riskmapApp = app;
      return app;
    }
  };
})();
