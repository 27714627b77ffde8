/* riskmap layout editor (/edit): Leaflet + Leaflet-Geoman over the plant's tiles.
 *
 * Reads the layout features of the view from the OGC API (only when zoomed in), colours each by the units
 * attached to it, and writes through the same API any client uses: POST/PUT/DELETE items with If-Match (the
 * ETag read when the feature was selected), split and merge, attach/detach of units. A stale ETag (412) shows the
 * other version beside the user's and lets them take it or save theirs again. Editing needs a signed-in person
 * whose roles allow it (/login sets the session cookie; /api/auth/me says who it is); every write carries the
 * session's CSRF token (the riskmap_csrf cookie, sent back as X-CSRF-Token). Without it the page is a read-only
 * view with no tools and a link to sign in.
 *
 * User text goes into the DOM with textContent only, never innerHTML.
 */
(function () {
  "use strict";

  var CSRF_COOKIE = "riskmap_csrf";
  function cookie(name) {
    var found = null;
    document.cookie.split(";").forEach(function (part) {
      var i = part.indexOf("=");
      if (i > 0 && part.slice(0, i).trim() === name) found = decodeURIComponent(part.slice(i + 1).trim());
    });
    return found;
  }
  var GREY = "#BDBDBD";

  var el = window.riskmapDom.el;          // static/dom.js: user text as textContent only
  var query = window.riskmapDom.query;

  function fill(text, values) {
    return text.replace(/\{(\w+)\}/g, function (_, key) { return values[key]; });
  }

  function button(text, onClick, className) {
    var b = el("button", className, text);
    b.type = "button";
    b.addEventListener("click", function (ev) { ev.preventDefault(); onClick(ev); });
    return b;
  }

  function isArea(record) {
    var type = record && record.geometryType;
    return type === "Polygon" || type === "MultiPolygon";
  }

  function Editor(config) {
    this.config = config;
    this.t = config.text;
    this.records = {};          // key (fid, or "new-<n>" before the first save) -> record
    this.newCount = 0;
    this.selected = null;       // key
    this.mode = null;           // null | "split" | "merge"
    this.editor = null;         // who is signed in ({name, roles, permissions}) when editing is allowed
    this.errors = [];
    this.colours = {};
    this.rank = {};
    var self = this;
    config.levels.forEach(function (row, i) { self.colours[row.level] = row.fill; self.rank[row.level] = i; });
  }

  Editor.prototype.start = function () {
    var self = this, c = this.config;
    var map = this.map = L.map("editor-map", { maxZoom: 22, minZoom: 2, zoomControl: true, fadeAnimation: false });
    map.attributionControl.setPrefix("Leaflet");
    var b = c.bounds || [73.0, 18.0, 135.0, 54.0];
    map.fitBounds(L.latLngBounds([b[1], b[0]], [b[3], b[2]]), { padding: [12, 12], animate: false });
    if (c.bounds && map.getZoom() < c.min_edit_zoom) map.setZoom(c.min_edit_zoom, { animate: false });
    L.control.scale({ metric: true, imperial: false }).addTo(map);
    this.features = L.featureGroup().addTo(map);
    this.others = L.featureGroup().addTo(map);       // other people's versions after a conflict
    map.pm.setLang(c.lang === "zh" ? "zh" : "en");
    map.pm.setGlobalOptions({ snappable: true, snapDistance: 14, allowSelfIntersection: false });
    map.on("pm:create", function (e) { self.created(e.layer, e.shape); });
    // While a shape or a line is drawn, the features' point markers (hydrants, exits … drawn as pins) let clicks
    // through to the map, so that a vertex can be placed where a pin stands.
    map.on("pm:drawstart", function () { map.getContainer().classList.add("editor-drawing"); });
    map.on("pm:drawend", function () { map.getContainer().classList.remove("editor-drawing"); });
    map.on("moveend", function () { self.loadView(); });
    map.on("click", function () { if (!self.mode) self.select(null); });
    this.panel = document.getElementById("editor-panel");
    this.buildPanel();
    this.ready = Promise.all([this.addBackdrop(), this.checkSession()])
      .then(function () { return self.loadView(); })
      .then(function () { return self; });
    return this;
  };

  // ------------------------------------------------------------------------------------------ HTTP

  /** One request; resolves with {status, ok, etag, location, body} whatever the status (callers decide). */
  Editor.prototype.api = function (method, url, options) {
    options = options || {};
    var headers = { Accept: "application/geo+json, application/json" };
    // The session cookie goes with every request of this origin; a write also carries the CSRF token.
    if (method !== "GET" && method !== "HEAD") {
      var csrf = cookie(CSRF_COOKIE);
      if (csrf) headers["X-CSRF-Token"] = csrf;
    }
    if (options.ifMatch) headers["If-Match"] = options.ifMatch;
    var init = { method: method, headers: headers, cache: "no-store", credentials: "same-origin" };
    if (options.body !== undefined) {
      headers["Content-Type"] = options.contentType || "application/json";
      init.body = JSON.stringify(options.body);
    }
    return fetch(url, init).then(function (resp) {
      return resp.text().then(function (text) {
        var body = null;
        try { body = text ? JSON.parse(text) : null; } catch (e) { body = { detail: text }; }
        return { status: resp.status, ok: resp.ok, etag: resp.headers.get("ETag"),
                 location: resp.headers.get("Location"), body: body };
      });
    });
  };

  Editor.prototype.itemUrl = function (collection, id, params) {
    var base = this.config.urls[collection + "_items"] + (id === undefined ? "" : "/" + encodeURIComponent(id));
    var q = query(Object.assign(this.scope(), params || {}));
    return base + (q ? "?" + q : "");
  };

  Editor.prototype.detail = function (answer) {
    var body = answer.body;
    return (body && (body.detail || body.message)) || String(answer.status);
  };

  // --------------------------------------------------------------------------------------- sign-in

  Editor.prototype.checkSession = function () {
    var self = this;
    // The CSRF cookie is there only after a sign-in (the session cookie itself is HttpOnly): no need to ask.
    if (!cookie(CSRF_COOKIE)) { this.signedIn = null; this.setEditor(null, false); return Promise.resolve(); }
    return this.api("GET", this.config.urls.whoami).then(function (answer) {
      var who = answer.ok ? answer.body : null;
      self.signedIn = who;
      if (who && (who.permissions || []).indexOf("edit_layout") >= 0) self.setEditor(who, false);
      else self.setEditor(null, false);
    });
  };

  /** The session ended or lost its rights while the page was open: read-only again, with a word why. */
  Editor.prototype.forgetToken = function (invalid) {
    this.signedIn = null;
    this.setEditor(null, invalid);
  };

  Editor.prototype.signOut = function () {
    var self = this;
    return this.api("POST", "/logout").then(function () {
      self.signedIn = null;
      self.setEditor(null, false);
    });
  };

  Editor.prototype.signInUrl = function () {
    return "/login?" + query({ next: window.location.pathname + window.location.search,
                               lang: this.config.lang === "en" ? "en" : "zh" });
  };

  Editor.prototype.setEditor = function (info, invalid) {
    var wasEditing = !!this.editor;
    this.editor = info;
    this.tokenInvalid = !!invalid;
    if (!info) {
      this.mode = null;
      if (this.map.pm) this.map.pm.disableDraw();
      var current = this.selected && this.records[this.selected];
      if (current && current.layer.pm) current.layer.pm.disable();
    }
    if (wasEditing !== !!info || invalid) this.buildPanel();
  };

  // ------------------------------------------------------------------------------------- backdrop

  Editor.prototype.addBackdrop = function () {
    var self = this;
    this.tileLayers = {};
    var overlays = {};
    var loads = this.config.layers.map(function (spec) {
      var url = spec.tilejson + (window.devicePixelRatio >= 1.5 ? "&scale=2" : "");
      return fetch(url).then(function (resp) {
        if (!resp.ok) throw new Error(resp.status + " " + url);
        return resp.json();
      }).then(function (tj) {
        var layer = L.tileLayer(tj.tiles[0], {
          maxZoom: 22, maxNativeZoom: tj.maxzoom, minNativeZoom: tj.minzoom, zIndex: spec.z, tileSize: 256,
          className: "riskmap-tiles riskmap-tiles-" + spec.name, attribution: tj.attribution || "",
          pane: spec.name === "labels" ? self.labelPane() : "tilePane"
        });
        self.tileLayers[spec.name] = layer;
        overlays[spec.title] = layer;
        if (spec.visible) layer.addTo(self.map);
      }).catch(function (err) { self.report(spec.title, err); });
    });
    return Promise.all(loads).then(function () {
      var ordered = {};
      self.config.layers.forEach(function (spec) { if (overlays[spec.title]) ordered[spec.title] = overlays[spec.title]; });
      L.control.layers(null, ordered, { collapsed: true, position: "topright" }).addTo(self.map);
    });
  };

  /** Names above the editable shapes (which sit above the tiles), never catching a click. */
  Editor.prototype.labelPane = function () {
    if (!this.map.getPane("riskmapLabels")) {
      var pane = this.map.createPane("riskmapLabels");
      pane.style.zIndex = 450;
      pane.style.pointerEvents = "none";
    }
    return "riskmapLabels";
  };

  /** New tile URLs after a change (versioned TileJSON), so the backdrop shows the saved colours at once. */
  Editor.prototype.refreshBackdrop = function () {
    var self = this;
    return Promise.all(this.config.layers.map(function (spec) {
      var layer = self.tileLayers[spec.name];
      if (!layer) return null;
      var url = spec.tilejson + (window.devicePixelRatio >= 1.5 ? "&scale=2" : "");
      return fetch(url, { cache: "no-store" }).then(function (resp) { return resp.json(); })
        .then(function (tj) { if (layer._url !== tj.tiles[0]) layer.setUrl(tj.tiles[0]); })
        .catch(function (err) { self.report(spec.title, err); });
    }));
  };

  // -------------------------------------------------------------------------------------- features

  /** Load the editable features of the view (and their colours); pending edits are kept as they are. */
  Editor.prototype.loadView = function (force) {
    var self = this, map = this.map, c = this.config;
    if (map.getZoom() < c.min_edit_zoom) {
      var chosen = this.selected && this.records[this.selected];
      if (chosen && chosen.state === "clean") this.select(null);
      this.dropClean();
      this.setZoomNotice(fill(this.t.zoom_in, { z: c.min_edit_zoom, now: map.getZoom() }));
      return Promise.resolve();
    }
    this.setZoomNotice(null);
    var b = map.getBounds();
    var bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (v) { return v.toFixed(7); }).join(",");
    var seq = this.loadSeq = (this.loadSeq || 0) + 1;
    var get = function (collection) {
      return self.api("GET", self.itemUrl(collection, undefined, { bbox: bbox, limit: c.limit }), { auth: false });
    };
    return Promise.all([get("layout"), get("regions"), get("units")]).then(function (answers) {
      if (seq !== self.loadSeq) return;
      var layout = answers[0], regions = answers[1], units = answers[2];
      if (!layout.ok) { self.report(self.t.error, new Error(self.detail(layout))); return; }
      if (force) self.dropClean();
      self.levels = self.levelsOf(regions.ok ? regions.body.features : [], units.ok ? units.body.features : []);
      self.unitsByRef = self.unitsOf(units.ok ? units.body.features : []);
      var features = layout.body.features || [];
      features.forEach(function (feature) { self.upsert(feature); });
      Object.keys(self.records).forEach(function (key) { self.restyle(self.records[key]); });
      var n = features.length;
      self.setStatus(n >= c.limit ? fill(self.t.too_many, { n: n }) : fill(self.t.loaded, { n: n }));
      if (self.selected) self.fillSelection();
    }).catch(function (err) { self.report(self.t.error, err); });
  };

  /** Level per feature id: a region's own level, else the highest level of the units attached to it. */
  Editor.prototype.levelsOf = function (regions, units) {
    var out = {}, rank = this.rank;
    function raise(fid, level) {
      if (!fid || !level || rank[level] === undefined) return;
      if (out[fid] === undefined || rank[level] < rank[out[fid]]) out[fid] = level;
    }
    units.forEach(function (u) { raise(u.properties.feature_ref, u.properties.level); });
    regions.forEach(function (r) { raise(String(r.id), r.properties.level); });
    return out;
  };

  Editor.prototype.unitsOf = function (units) {
    var out = {};
    units.forEach(function (u) {
      var ref = u.properties.feature_ref;
      if (ref === undefined || ref === null || ref === "") return;
      (out[ref] = out[ref] || []).push({ id: String(u.id), name: u.properties.name, level: u.properties.level });
    });
    return out;
  };

  Editor.prototype.dropClean = function () {
    var self = this;
    Object.keys(this.records).forEach(function (key) {
      var r = self.records[key];
      if (r.state === "clean" && key !== self.selected) {
        self.features.removeLayer(r.layer);
        delete self.records[key];
      }
    });
  };

  Editor.prototype.layerOf = function (feature) {
    var layer = L.GeoJSON.geometryToLayer(feature, {
      pointToLayer: function (_, latlng) { return L.marker(latlng, { riseOnHover: true }); }
    });
    return layer;
  };

  Editor.prototype.upsert = function (feature) {
    var key = String(feature.id), old = this.records[key];
    if (old && old.state !== "clean") return old;
    if (old && old.feature && JSON.stringify(old.feature) === JSON.stringify(feature)) return old;
    if (old) this.features.removeLayer(old.layer);
    var record = { key: key, fid: key, feature: feature, props: Object.assign({}, feature.properties || {}),
                   geometryType: feature.geometry ? feature.geometry.type : null, state: "clean",
                   etag: old ? old.etag : null };
    this.attach(record, this.layerOf(feature));
    this.records[key] = record;
    if (old && this.selected === key) this.enableEditing(record);
    return record;
  };

  Editor.prototype.attach = function (record, layer) {
    var self = this;
    record.layer = layer;
    layer.riskmapKey = record.key;
    layer.on("click", function (e) {
      // While drawing (a new shape, a cutting line) the click belongs to Geoman on the map: a vertex.
      if (self.map.pm.globalDrawModeEnabled()) return;
      L.DomEvent.stop(e);
      self.clicked(record.key);
    });
    layer.on("pm:edit pm:dragend pm:markerdragend pm:vertexadded pm:vertexremoved", function () {
      self.changed(self.records[layer.riskmapKey]);
    });
    this.features.addLayer(layer);
    this.restyle(record);
  };

  /** A unit's feature_ref names a feature by id, else by name (as riskmap.attach matches them). */
  Editor.prototype.refOf = function (table, record) {
    if (!table) return undefined;
    if (record.fid && table[record.fid] !== undefined) return table[record.fid];
    var name = record.props && record.props.name;
    return name ? table[name] : undefined;
  };

  Editor.prototype.levelOfRecord = function (record) {
    return record.fid ? this.refOf(this.levels, record) : undefined;
  };

  Editor.prototype.restyle = function (record) {
    var layer = record.layer, level = this.levelOfRecord(record);
    var selected = this.selected === record.key;
    if (layer.setStyle) {
      // No fill of our own: the colours under the shapes are the tiles' (regions and units, opaque, drawn by the
      // one symbology), so no colour is ever blended here nor shown lower than the data. The shape stays
      // clickable inside (a transparent fill still takes pointer events).
      var region = record.props.role === "region";
      layer.setStyle({
        color: selected ? "#0b57a4" : (record.state === "clean" ? "#333333" : "#c2185b"),
        weight: selected ? 3 : (region ? 2 : 1),
        dashArray: record.state === "clean" ? null : "5 4",
        fill: true, fillColor: GREY, fillOpacity: 0, opacity: 1
      });
    }
    var node = layer.getElement ? layer.getElement() : layer._icon;
    if (node) {
      node.setAttribute("data-fid", record.fid || "");
      node.setAttribute("data-level", level || "");
      node.setAttribute("data-state", record.state);
    }
  };

  Editor.prototype.changed = function (record) {
    if (!record || record.state === "deleted") return;
    if (record.state === "clean") record.state = "changed";
    this.restyle(record);
    this.fillPending();
  };

  // ------------------------------------------------------------------------------------- selection

  Editor.prototype.clicked = function (key) {
    if (this.mode === "merge" && this.selected && key !== this.selected) return this.merge(this.selected, key);
    if (this.mode) return null;
    return this.select(key);
  };

  Editor.prototype.select = function (key) {
    var self = this, previous = this.selected && this.records[this.selected];
    if (previous && previous.key !== key) {
      if (previous.layer.pm) previous.layer.pm.disable();
      if (previous.layer.pm && previous.layer.pm.disableLayerDrag) previous.layer.pm.disableLayerDrag();
    }
    this.selected = key && this.records[key] ? key : null;
    if (previous) this.restyle(previous);
    var record = this.selected && this.records[this.selected];
    if (!record) { this.fillSelection(); return Promise.resolve(null); }
    this.restyle(record);
    this.fillSelection();
    if (!this.editor || record.state !== "clean") {
      this.enableEditing(record);
      return Promise.resolve(record);
    }
    // The ETag is read when editing starts: what the user saw is what their change is based on.
    return this.fetchItem(record).then(function () { self.enableEditing(record); return record; });
  };

  /** GET the item: its ETag, and its current geometry when someone changed it since the view was loaded. */
  Editor.prototype.fetchItem = function (record) {
    var self = this;
    return this.api("GET", this.itemUrl("layout", record.fid), { auth: false }).then(function (answer) {
      if (answer.status === 404) {
        self.features.removeLayer(record.layer);
        delete self.records[record.key];
        if (self.selected === record.key) self.select(null);
        return null;
      }
      if (!answer.ok) { self.report(self.t.error, new Error(self.detail(answer))); return null; }
      if (record.state === "clean" && JSON.stringify(answer.body.geometry) !== JSON.stringify(record.feature.geometry)) {
        record.layer.pm && record.layer.pm.disable();
        self.features.removeLayer(record.layer);
        record.feature = answer.body;
        record.props = Object.assign({}, answer.body.properties || {});
        self.attach(record, self.layerOf(answer.body));
      }
      record.etag = answer.etag;
      return record;
    });
  };

  Editor.prototype.enableEditing = function (record) {
    if (!this.editor || !record.layer.pm || record.state === "deleted") return;
    record.layer.pm.enable({ snappable: true, allowSelfIntersection: false, draggable: true });
  };

  // ---------------------------------------------------------------------------------------- tools

  Editor.prototype.draw = function (shape) {
    this.setMode(null);
    this.map.pm.enableDraw(shape, { snappable: true, continueDrawing: false });
  };

  Editor.prototype.setMode = function (mode) {
    this.mode = mode;
    if (mode !== "split") this.map.pm.disableDraw();
    if (this.toolButtons) {
      var self = this;
      Object.keys(this.toolButtons).forEach(function (name) {
        self.toolButtons[name].setAttribute("aria-pressed", String(name === mode));
      });
    }
    var record = this.selected && this.records[this.selected];
    if (record && record.layer.pm) {
      if (mode) record.layer.pm.disable();          // no vertex handles in the way of the line or the click
      else this.enableEditing(record);
    }
    if (mode === "split") {
      this.setStatus(this.t.split_hint);
      this.map.pm.enableDraw("Line", { snappable: true });
    } else if (mode === "merge") {
      this.setStatus(this.t.merge_hint);
    }
  };

  Editor.prototype.created = function (layer, shape) {
    if (this.mode === "split" && shape === "Line") {
      var line = layer.toGeoJSON().geometry;
      this.map.removeLayer(layer);
      this.setMode(null);
      return this.split(this.selected, line);
    }
    this.map.removeLayer(layer);
    var geometry = layer.toGeoJSON().geometry;
    // The role chosen in the list when it takes this kind of geometry (an escape route is a line drawn in the
    // direction of travel, a hydrant a point); else the usual role of the kind.
    var chosen = this.roleSelect.value;
    var info = this.config.roles.filter(function (r) { return r.role === chosen; })[0];
    var role = info && info.geometry.indexOf(geometry.type) >= 0 ? chosen
      : (shape === "Marker" ? "equipment" : (shape === "Line" ? "other" : chosen));
    var key = "new-" + (++this.newCount);
    var record = { key: key, fid: null, feature: null, props: { name: null, role: role }, geometryType: geometry.type,
                   state: "new", etag: null };
    this.records[key] = record;
    this.attach(record, this.layerOf({ type: "Feature", geometry: geometry, properties: {} }));
    this.select(key);
    this.fillPending();
    return record;
  };

  Editor.prototype.removeSelected = function () {
    var record = this.selected && this.records[this.selected];
    if (!record) return;
    if (record.layer.pm) record.layer.pm.disable();
    this.features.removeLayer(record.layer);
    if (record.state === "new") delete this.records[record.key];
    else { record.state = "deleted"; this.setStatus(this.t.confirm_delete); }
    this.selected = null;
    this.fillSelection();
    this.fillPending();
  };

  Editor.prototype.toggleMove = function () {
    var record = this.selected && this.records[this.selected];
    if (!record || !record.layer.pm || !record.layer.pm.enableLayerDrag) return;
    if (record.layer.pm.layerDragEnabled()) record.layer.pm.disableLayerDrag();
    else { record.layer.pm.disable(); record.layer.pm.enableLayerDrag(); }
  };

  /** Server-side split of the selected area along a line: one new layout version. */
  Editor.prototype.split = function (key, line) {
    var self = this, record = key && this.records[key];
    if (!record || !isArea(record) || !record.fid) { this.setStatus(this.t.need_area); return Promise.resolve(); }
    var body = { fid: record.fid, line: line, if_match: record.etag };
    return this.api("POST", this.config.urls.split + "?" + this.writeQuery(), { body: body }).then(function (answer) {
      return self.afterOperation(answer, record, self.t.split_done);
    });
  };

  Editor.prototype.merge = function (keyA, keyB) {
    var self = this, a = this.records[keyA], b = this.records[keyB];
    this.setMode(null);
    if (!a || !b || !isArea(a) || !isArea(b) || !a.fid || !b.fid) {
      this.setStatus(this.t.need_area);
      return Promise.resolve();
    }
    return this.fetchItem(b).then(function () {
      var ifMatch = {};
      ifMatch[a.fid] = a.etag;
      ifMatch[b.fid] = b.etag;
      var body = { fids: [a.fid, b.fid], if_match: ifMatch };
      return self.api("POST", self.config.urls.merge + "?" + self.writeQuery(), { body: body });
    }).then(function (answer) { return self.afterOperation(answer, a, self.t.merge_done); });
  };

  Editor.prototype.afterOperation = function (answer, record, done) {
    if (answer.status === 401) { this.forgetToken(true); return null; }
    if (answer.status === 412) { this.showConflict(record, answer.body); return null; }
    if (!answer.ok) { this.report(this.t.error, new Error(this.detail(answer))); return null; }
    this.selected = null;
    var self = this;
    return this.loadView(true).then(function () {
      self.setStatus(done, true);
      self.fillSelection();
      return self.refreshBackdrop();
    });
  };

  Editor.prototype.writeQuery = function () {
    var reason = this.whyInput ? this.whyInput.value.trim() : "";
    return query(Object.assign(this.scope(), { reason: reason }));
  };

  /** The enterprise and the drawing (absent: the site plan) every read and write names. */
  Editor.prototype.scope = function () {
    var d = this.config.drawing;
    return d ? { enterprise: this.config.enterprise, drawing: d.key } : { enterprise: this.config.enterprise };
  };

  // ---------------------------------------------------------------------------------------- saving

  Editor.prototype.pendingRecords = function () {
    var self = this;
    return Object.keys(this.records).map(function (k) { return self.records[k]; })
      .filter(function (r) { return r.state !== "clean"; });
  };

  Editor.prototype.featureBody = function (record) {
    var props = Object.assign({}, record.props);
    ["role_zh", "edit_tag"].forEach(function (k) { delete props[k]; });
    return { type: "Feature", geometry: record.layer.toGeoJSON().geometry, properties: props };
  };

  /** Send every pending change, one request per feature; stops at the first conflict or refused token. */
  Editor.prototype.save = function () {
    var self = this, pending = this.pendingRecords();
    if (!pending.length) { this.setStatus(this.t.nothing); return Promise.resolve(0); }
    this.setStatus(this.t.saving);
    var saved = 0, stopped = false;
    var chain = Promise.resolve();
    pending.forEach(function (record) {
      chain = chain.then(function () {
        if (stopped) return null;
        return self.saveOne(record).then(function (ok) { if (ok) saved += 1; else stopped = true; });
      });
    });
    return chain.then(function () {
      self.fillPending();
      if (saved) {
        return self.loadView(true).then(function () { return self.refreshBackdrop(); }).then(function () {
          if (!stopped) self.setStatus(fill(self.t.saved, { n: saved }), true);
          return saved;
        });
      }
      return saved;
    });
  };

  Editor.prototype.saveOne = function (record) {
    var self = this, q = this.writeQuery(), request;
    if (record.state === "new") {
      request = this.api("POST", this.config.urls.layout_items + "?" + q,
                         { body: this.featureBody(record), contentType: "application/geo+json" });
    } else if (record.state === "changed") {
      request = this.api("PUT", this.config.urls.layout_items + "/" + encodeURIComponent(record.fid) + "?" + q,
                         { body: this.featureBody(record), contentType: "application/geo+json", ifMatch: record.etag });
    } else if (record.state === "deleted") {
      request = this.api("DELETE", this.config.urls.layout_items + "/" + encodeURIComponent(record.fid) + "?" + q,
                         { ifMatch: record.etag });
    } else {
      return Promise.resolve(true);
    }
    return request.then(function (answer) {
      if (answer.status === 401 || answer.status === 403) { self.forgetToken(true); return false; }
      if (answer.status === 412) { self.showConflict(record, answer.body); return false; }
      if (!answer.ok) {
        self.report(self.t.error, new Error(self.detail(answer)));
        return false;
      }
      self.settle(record, answer);
      return true;
    });
  };

  /** A write succeeded: the record becomes the stored version (new fid, new ETag). */
  Editor.prototype.settle = function (record, answer) {
    if (record.state === "deleted") {
      delete this.records[record.key];
      return;
    }
    var fid = record.fid;
    if (!fid) {
      fid = answer.body && answer.body.id !== undefined ? String(answer.body.id) : null;
      if (!fid && answer.location) fid = decodeURIComponent(answer.location.split("?")[0].split("/").pop());
    }
    delete this.records[record.key];
    record.key = fid;
    record.fid = fid;
    record.layer.riskmapKey = fid;
    record.etag = answer.etag;
    record.state = "clean";
    record.feature = answer.body && answer.body.type === "Feature" ? answer.body : null;
    if (this.selected && this.records[this.selected] === undefined) this.selected = fid;
    this.records[fid] = record;
    this.restyle(record);
  };

  Editor.prototype.discard = function () {
    var self = this;
    this.pendingRecords().forEach(function (r) {
      if (r.layer.pm) r.layer.pm.disable();
      self.features.removeLayer(r.layer);
      delete self.records[r.key];
    });
    this.selected = null;
    this.others.clearLayers();
    this.conflictBox.textContent = "";
    this.fillPending();
    this.fillSelection();
    return this.loadView(true);
  };

  // -------------------------------------------------------------------------------------- conflicts

  /** Draw the other version beside the user's, say who changed it and when; offer reload or re-apply. */
  Editor.prototype.showConflict = function (record, body) {
    var self = this, t = this.t, current = (body && body.current) || {};
    var box = this.conflictBox;
    box.textContent = "";
    var wrap = el("div", "editor-conflict");
    wrap.setAttribute("role", "alertdialog");
    wrap.appendChild(el("h3", null, t.conflict + " · " + (record.fid || "")));
    if (current.feature) {
      wrap.appendChild(el("p", null, fill(t.conflict_text, { who: current.changed_by || "?",
                                                             when: this.when(current.changed_at) })));
      var theirs = current.feature.properties || {}, dl = el("dl", "editor-dl");
      dl.appendChild(el("dt", null, t.name));
      dl.appendChild(el("dd", "editor-their-name", theirs.name || ""));
      dl.appendChild(el("dt", null, t.role));
      dl.appendChild(el("dd", null, theirs.role_zh && this.config.lang === "zh" ? theirs.role_zh : theirs.role || ""));
      wrap.appendChild(dl);
      this.others.clearLayers();
      L.geoJSON(current.feature, {
        style: { color: "#b00020", weight: 2, dashArray: "6 4", fill: false }, snapIgnore: true, pmIgnore: true,
        interactive: false,
        pointToLayer: function (_, latlng) { return L.circleMarker(latlng, { radius: 8, color: "#b00020" }); }
      }).addTo(this.others);
      wrap.appendChild(el("p", "editor-muted", t.theirs));
    } else {
      wrap.appendChild(el("p", null, t.conflict_deleted + (current.changed_by ? " (" + current.changed_by + ", " +
                                                           this.when(current.changed_at) + ")" : "")));
    }
    if (current.reason) wrap.appendChild(el("p", null, fill(t.conflict_reason, { reason: current.reason })));
    wrap.appendChild(button(t.reload, function () { self.takeTheirs(record, current); }, "editor-reload"));
    if (current.feature) wrap.appendChild(button(t.reapply, function () { self.reapply(record); }, "editor-reapply"));
    box.appendChild(wrap);
    this.setStatus(t.conflict);
  };

  /** A stored moment as Beijing wall-clock time (the plant's), e.g. 2026-11-23 12:14. */
  Editor.prototype.when = function (iso) {
    var d = iso ? new Date(iso) : null;
    if (!d || isNaN(d.getTime())) return iso || "?";
    var local = new Date(d.getTime() + 8 * 3600 * 1000).toISOString();
    return local.slice(0, 10) + " " + local.slice(11, 16) + (this.config.lang === "zh" ? "（北京时间）" : " (Beijing time)");
  };

  Editor.prototype.closeConflict = function () {
    this.others.clearLayers();
    this.conflictBox.textContent = "";
  };

  Editor.prototype.takeTheirs = function (record) {
    this.closeConflict();
    if (record.layer.pm) record.layer.pm.disable();
    this.features.removeLayer(record.layer);
    delete this.records[record.key];
    if (this.selected === record.key) this.selected = null;
    this.fillPending();
    this.fillSelection();
    return this.loadView(true);
  };

  /** Save the user's version again on top of the current one (its new ETag). */
  Editor.prototype.reapply = function (record) {
    var self = this;
    return this.api("GET", this.itemUrl("layout", record.fid), { auth: false }).then(function (answer) {
      if (!answer.ok) { self.report(self.t.error, new Error(self.detail(answer))); return false; }
      record.etag = answer.etag;
      if (record.state === "clean") record.state = "changed";
      self.closeConflict();
      return self.save();
    });
  };

  // ----------------------------------------------------------------------------------------- units

  Editor.prototype.searchUnits = function (text, list, record) {
    var self = this;
    text = (text || "").trim();
    list.textContent = "";
    if (!text) return Promise.resolve([]);
    var url = this.config.urls.search + "?" + query({ q: text, enterprise: this.config.enterprise, limit: 10 });
    return this.api("GET", url, { auth: false }).then(function (answer) {
      list.textContent = "";
      if (!answer.ok) { self.report(self.t.error, new Error(self.detail(answer))); return []; }
      var units = answer.body.results.filter(function (r) { return r.kind === "unit"; });
      units.forEach(function (unit) {
        var li = el("li");
        li.appendChild(self.swatch(unit.level));
        li.appendChild(el("span", "editor-unit-name", unit.name + " · " + unit.id));
        li.appendChild(button(self.t.attach, function () { self.setUnitRef(unit, record.fid); }, "editor-attach"));
        list.appendChild(li);
      });
      return units;
    });
  };

  /** Attach (fid) or detach (null) a unit: a merge-patch of its feature_ref with If-Match. */
  Editor.prototype.setUnitRef = function (unit, fid) {
    var self = this, url = this.config.urls.units_items + "/" + encodeURIComponent(unit.id);
    return this.api("GET", url + "?" + query({ enterprise: this.config.enterprise }), { auth: false }).then(function (current) {
      if (!current.ok) { self.report(self.t.error, new Error(self.detail(current))); return null; }
      return self.api("PATCH", url + "?" + self.writeQuery(), {
        body: { properties: { feature_ref: fid } }, contentType: "application/merge-patch+json", ifMatch: current.etag
      });
    }).then(function (answer) {
      if (!answer) return null;
      if (answer.status === 401 || answer.status === 403) { self.forgetToken(true); return null; }
      if (!answer.ok) { self.report(self.t.error, new Error(self.detail(answer))); return null; }
      return self.loadView(true).then(function () {
        self.setStatus(fill(fid ? self.t.unit_attached : self.t.unit_detached, { unit: unit.name || unit.id }), true);
        return self.refreshBackdrop();
      });
    });
  };

  // ----------------------------------------------------------------------------------------- panel

  Editor.prototype.swatch = function (level) {
    var box = el("span", "editor-swatch");
    box.style.backgroundColor = level && this.colours[level] ? this.colours[level] : GREY;
    return box;
  };

  Editor.prototype.buildPanel = function () {
    var self = this, c = this.config, t = this.t, panel = this.panel;
    panel.textContent = "";
    panel.appendChild(el("h1", null, c.enterprise));
    panel.appendChild(el("div", null, c.drawing ? t.drawing_editor : t.title));
    if (c.drawing) panel.appendChild(el("div", "editor-drawing", fill(t.drawing_title, { title: c.drawing.label || c.drawing.title })));
    var links = el("div", "editor-links");
    links.appendChild(window.riskmapDom.langLink("editor-lang", t.switch_lang, c.lang));
    var mapLink = el("a", "editor-map-link", t.to_map);
    mapLink.href = c.urls.map + "?" + query(Object.assign(this.scope(), { lang: c.lang }));
    links.appendChild(mapLink);
    panel.appendChild(links);

    this.statusBox = el("div", "editor-status");
    this.statusBox.setAttribute("role", "status");
    panel.appendChild(this.statusBox);
    this.zoomBox = el("div", "editor-notice editor-zoom");
    this.zoomBox.hidden = true;
    panel.appendChild(this.zoomBox);

    panel.appendChild(this.tokenSection());
    this.toolButtons = null;
    if (this.editor) panel.appendChild(this.toolSection());
    this.conflictBox = el("div", "editor-conflicts");
    panel.appendChild(this.conflictBox);
    panel.appendChild(el("h2", null, t.selected));
    this.selectionBox = el("div", "editor-selection");
    panel.appendChild(this.selectionBox);
    if (this.editor) panel.appendChild(this.saveSection());
    panel.appendChild(this.legendSection());
    this.fillSelection();
    this.fillPending();
    if (this.zoomText) this.setZoomNotice(this.zoomText);
  };

  Editor.prototype.tokenSection = function () {
    var self = this, t = this.t, box = el("div", "editor-token");
    if (this.editor) {
      box.appendChild(el("div", "editor-ok", fill(t.editor_as, { name: this.editor.name || "?" })));
      box.appendChild(button(t.signout, function () { self.signOut(); }, "editor-forget editor-signout"));
      return box;
    }
    if (this.tokenInvalid) box.appendChild(el("div", "editor-error editor-token-invalid", t.expired));
    box.appendChild(el("div", "editor-notice", this.signedIn ? t.no_right : t.notice));
    var link = el("a", "editor-signin", t.signin);
    link.href = this.signInUrl();
    box.appendChild(link);
    if (this.signedIn) box.appendChild(button(t.signout, function () { self.signOut(); }, "editor-signout"));
    return box;
  };

  Editor.prototype.toolSection = function () {
    var self = this, t = this.t, box = el("div", "editor-tools");
    box.appendChild(el("h2", null, t.new_role));
    this.roleSelect = el("select", "editor-new-role");
    this.roleSelect.setAttribute("aria-label", t.new_role);
    this.config.roles.forEach(function (r) {
      var opt = el("option", null, r.title);
      opt.value = r.role;
      self.roleSelect.appendChild(opt);
    });
    box.appendChild(this.roleSelect);
    var row = el("div");
    row.appendChild(button(t.draw_polygon, function () { self.draw("Polygon"); }, "editor-draw-polygon"));
    row.appendChild(button(t.draw_rectangle, function () { self.draw("Rectangle"); }, "editor-draw-rectangle"));
    row.appendChild(button(t.draw_point, function () { self.draw("Marker"); }, "editor-draw-point"));
    row.appendChild(button(t.draw_line, function () { self.draw("Line"); }, "editor-draw-line"));
    box.appendChild(row);
    var ops = el("div");
    this.toolButtons = {
      split: button(t.split, function () { self.startOperation("split"); }, "editor-split"),
      merge: button(t.merge, function () { self.startOperation("merge"); }, "editor-merge")
    };
    ops.appendChild(button(t.move, function () { self.toggleMove(); }, "editor-move"));
    ops.appendChild(this.toolButtons.split);
    ops.appendChild(this.toolButtons.merge);
    ops.appendChild(button(t.delete, function () { self.removeSelected(); }, "editor-delete"));
    box.appendChild(ops);
    box.appendChild(el("div", "editor-muted", t.select_hint));
    return box;
  };

  Editor.prototype.startOperation = function (mode) {
    var record = this.selected && this.records[this.selected];
    if (this.mode === mode) { this.setMode(null); return; }
    if (!record || !isArea(record) || record.state !== "clean") { this.setStatus(this.t.need_area); return; }
    this.setMode(mode);
  };

  Editor.prototype.saveSection = function () {
    var self = this, t = this.t, box = el("div", "editor-save");
    box.appendChild(el("h2", null, t.why));
    this.whyInput = el("textarea", "editor-why");
    this.whyInput.placeholder = t.why_placeholder;
    this.whyInput.setAttribute("aria-label", t.why);
    this.whyInput.maxLength = 2000;
    box.appendChild(this.whyInput);
    this.pendingBox = el("div", "editor-muted editor-pending");
    box.appendChild(this.pendingBox);
    box.appendChild(button(t.save, function () { self.save(); }, "editor-save-button"));
    box.appendChild(button(t.discard, function () { self.discard(); }, "editor-discard"));
    return box;
  };

  Editor.prototype.legendSection = function () {
    var self = this, box = el("div", "editor-legend");
    box.appendChild(el("h2", null, this.t.legend + " · " + this.t.level));
    var table = el("table");
    this.config.levels.forEach(function (row) {
      var tr = el("tr");
      var td = el("td");
      td.appendChild(self.swatch(row.level));
      tr.appendChild(td);
      tr.appendChild(el("td", null, row.title));
      table.appendChild(tr);
    });
    var tr = el("tr"), td = el("td");
    td.appendChild(this.swatch(null));
    tr.appendChild(td);
    tr.appendChild(el("td", null, this.t.unassessed));
    table.appendChild(tr);
    box.appendChild(table);
    return box;
  };

  Editor.prototype.fillSelection = function () {
    var self = this, t = this.t, box = this.selectionBox;
    if (!box) return;
    box.textContent = "";
    var record = this.selected && this.records[this.selected];
    if (!record) { box.appendChild(el("div", "editor-muted", t.select_hint)); return; }
    var dl = el("dl", "editor-dl");
    dl.appendChild(el("dt", null, t.id));
    dl.appendChild(el("dd", "editor-fid", record.fid || t.new_feature));
    var level = this.levelOfRecord(record);
    dl.appendChild(el("dt", null, t.level));
    var dd = el("dd");
    dd.appendChild(this.swatch(level));
    var levelRow = this.config.levels.filter(function (r) { return r.level === level; })[0];
    dd.appendChild(el("span", "editor-level", levelRow ? " " + levelRow.title : " " + t.unassessed));
    dl.appendChild(dd);
    box.appendChild(dl);

    if (this.editor) {
      var nameLabel = el("label", null, t.name);
      var name = el("input", "editor-name");
      name.type = "text";
      name.maxLength = 200;
      name.value = record.props.name || "";
      name.addEventListener("input", function () { record.props.name = name.value || null; self.changed(record); });
      nameLabel.appendChild(name);
      box.appendChild(nameLabel);
      var roleLabel = el("label", null, t.role);
      var role = el("select", "editor-role");
      this.config.roles.forEach(function (r) {
        var opt = el("option", null, r.title);
        opt.value = r.role;
        role.appendChild(opt);
      });
      role.value = record.props.role || "other";
      role.addEventListener("change", function () { record.props.role = role.value; self.changed(record); });
      roleLabel.appendChild(role);
      box.appendChild(roleLabel);
    } else {
      var ro = el("dl", "editor-dl");
      ro.appendChild(el("dt", null, t.name));
      ro.appendChild(el("dd", "editor-name-text", record.props.name || ""));
      ro.appendChild(el("dt", null, t.role));
      var roleInfo = this.config.roles.filter(function (r) { return r.role === record.props.role; })[0];
      ro.appendChild(el("dd", null, roleInfo ? roleInfo.title : record.props.role || ""));
      box.appendChild(ro);
    }

    box.appendChild(el("h2", null, t.units));
    var attached = (record.fid && this.refOf(this.unitsByRef, record)) || [];
    var list = el("ul", "editor-units editor-attached");
    if (!attached.length) list.appendChild(el("li", "editor-muted", t.no_units));
    attached.forEach(function (unit) {
      var li = el("li");
      li.setAttribute("data-unit-id", unit.id);
      li.appendChild(self.swatch(unit.level));
      li.appendChild(el("span", "editor-unit-name", unit.name + " · " + unit.id));
      if (self.editor && !self.config.drawing) {
        li.appendChild(button(t.detach, function () { self.setUnitRef(unit, null); }, "editor-detach"));
      }
      list.appendChild(li);
    });
    box.appendChild(list);
    if (this.config.drawing) {             // a unit's place on another drawing is the ledger's, not the editor's
      box.appendChild(el("p", "editor-muted", t.units_on_drawing));
    } else if (this.editor && record.fid && record.state === "clean") {
      var search = el("input", "editor-unit-search");
      search.type = "search";
      search.placeholder = t.unit_search;
      search.setAttribute("aria-label", t.unit_search);
      var results = el("ul", "editor-units editor-unit-results");
      var timer = null;
      search.addEventListener("input", function () {
        window.clearTimeout(timer);
        timer = window.setTimeout(function () { self.searchUnits(search.value, results, record); }, 200);
      });
      box.appendChild(search);
      box.appendChild(results);
    }
  };

  Editor.prototype.fillPending = function () {
    if (!this.pendingBox) return;
    var n = this.pendingRecords().length;
    this.pendingBox.textContent = n ? fill(this.t.pending, { n: n }) : "";
  };

  Editor.prototype.setZoomNotice = function (text) {
    this.zoomText = text;
    if (!this.zoomBox) return;
    this.zoomBox.hidden = !text;
    this.zoomBox.textContent = text || "";
  };

  Editor.prototype.setStatus = function (text, ok) {
    if (!this.statusBox) return;
    this.statusBox.textContent = text || "";
    this.statusBox.className = "editor-status" + (ok ? " editor-ok" : "");
  };

  Editor.prototype.report = function (what, err) {
    var message = err && err.message ? err.message : String(err);
    this.errors.push(String(what) + ": " + message);
    this.setStatus(this.t.error + "：" + message);
  };

  window.RiskEdit = {
    start: function (configElement) {
      var editor = new Editor(JSON.parse(configElement.textContent)).start();
      window.riskEditor = editor;
      return editor;
    }
  };
})();
