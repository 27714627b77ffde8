/* The regulator's overview: enterprises of the scope as points coloured by their highest region level (the colours
   come from the server, layers/levels.yaml), a popup with the counts, a sortable table and filters. */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("overview-config").textContent);
  var colours = {};
  var names = {};
  config.legend.forEach(function (e) { colours[e.level] = e.colour; names[e.level] = e.zh; });
  var NEUTRAL = "#9e9e9e";
  var ORDER = { major: 4, significant: 3, general: 2, low: 1 };
  var COLUMNS = [
    ["name", "企业"], ["highest_level", "最高等级"], ["major_risks", "重大风险"], ["significant_risks", "较大风险"],
    ["open_major_hazards", "重大隐患"], ["open_general_hazards", "一般隐患"], ["overdue_major_hazards", "超期重大"],
    ["overdue_general_hazards", "超期一般"], ["inspection_completion", "排查完成率"], ["listed_supervisions", "督办"]
  ];
  var map = L.map("map", { zoomControl: true, attributionControl: false }).setView([32.3, 119.9], 8);
  L.control.scale({ imperial: false }).addTo(map);
  var layer = L.layerGroup().addTo(map);
  var legend = L.control({ position: "bottomleft" });
  legend.onAdd = function () {
    var div = L.DomUtil.create("div", "legend");
    var rows = config.legend.map(function (e) {
      return '<div><span class="swatch" style="background:' + e.colour + '"></span>' + esc(e.zh) + "</div>";
    });
    rows.push('<div><span class="swatch" style="background:' + NEUTRAL + '"></span>未评价 / none</div>');
    div.innerHTML = rows.join("");
    return div;
  };
  legend.addTo(map);
  var rows = [];
  var sortKey = "highest_level";
  var sortDir = -1;
  var form = document.getElementById("filters");

  function esc(text) {
    return String(text === null || text === undefined ? "" : text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  function cell(row, key) {
    var v = row[key];
    if (key === "highest_level") { return v ? names[v] : "—"; }
    if (key === "inspection_completion") { return v === null || v === undefined ? "—" : Math.round(v * 1000) / 10 + "%"; }
    return v;
  }
  function value(row, key) {
    var v = row[key];
    if (key === "highest_level") { return ORDER[v] || 0; }
    if (v === null || v === undefined) { return -1; }
    return v;
  }
  function query() {
    var params = new URLSearchParams();
    new FormData(form).forEach(function (v, k) { if (v) { params.set(k, v); } });
    return params;
  }
  function popup(row) {
    var lines = [
      ["最高等级 / highest", cell(row, "highest_level")],
      ["重大风险 / major risks", row.major_risks], ["较大风险 / significant risks", row.significant_risks],
      ["未整改隐患（重大/一般）/ open hazards", row.open_major_hazards + " / " + row.open_general_hazards],
      ["超期隐患（重大/一般）/ overdue", row.overdue_major_hazards + " / " + row.overdue_general_hazards],
      ["近30天排查完成率 / inspections", cell(row, "inspection_completion")],
      ["挂牌督办 / supervised", row.listed_supervisions]
    ];
    return '<div class="popup"><b>' + esc(row.name) + "</b><br>" + esc(row.division || "") +
      (row.park ? " · " + esc(row.park) : "") + "<table>" +
      lines.map(function (l) { return "<tr><td>" + esc(l[0]) + "</td><td>" + esc(l[1]) + "</td></tr>"; }).join("") +
      '</table><a href="' + esc(row.map_url) + '">企业风险地图 / map</a></div>';
  }
  function draw() {
    layer.clearLayers();
    var bounds = [];
    rows.forEach(function (row) {
      if (row.lon === null || row.lat === null) { return; }
      var marker = L.circleMarker([row.lat, row.lon], {
        radius: 9, weight: 1.5, color: "#1a1a1a", fillOpacity: 1,
        fillColor: row.highest_level ? colours[row.highest_level] : NEUTRAL
      }).bindPopup(popup(row)).bindTooltip(esc(row.name), {
        permanent: rows.length <= 60, direction: "right", offset: [10, 0], className: "label"
      });
      marker.addTo(layer);
      bounds.push([row.lat, row.lon]);
    });
    if (bounds.length === 1) { map.setView(bounds[0], 13); } else if (bounds.length) { map.fitBounds(bounds, { padding: [30, 30] }); }
    table();
  }
  function table() {
    var head = document.querySelector("#table thead");
    head.innerHTML = "<tr>" + COLUMNS.map(function (c) {
      var cls = c[0] === sortKey ? (sortDir > 0 ? "sorted-asc" : "sorted-desc") : "";
      return '<th data-key="' + c[0] + '" class="' + cls + '">' + esc(c[1]) + "</th>";
    }).join("") + "</tr>";
    var sorted = rows.slice().sort(function (a, b) {
      var x = value(a, sortKey), y = value(b, sortKey);
      if (x < y) { return -sortDir; }
      if (x > y) { return sortDir; }
      return a.name < b.name ? -1 : 1;
    });
    document.querySelector("#table tbody").innerHTML = sorted.map(function (row) {
      return "<tr>" + COLUMNS.map(function (c) {
        if (c[0] === "name") { return '<td class="text"><a href="' + esc(row.map_url) + '">' + esc(row.name) + "</a></td>"; }
        if (c[0] === "highest_level") {
          var colour = row.highest_level ? colours[row.highest_level] : NEUTRAL;
          return '<td class="text"><span class="swatch" style="background:' + colour + '"></span>' + esc(cell(row, c[0])) + "</td>";
        }
        return "<td>" + esc(cell(row, c[0])) + "</td>";
      }).join("") + "</tr>";
    }).join("");
    head.querySelectorAll("th").forEach(function (th) {
      th.addEventListener("click", function () {
        var key = th.getAttribute("data-key");
        sortDir = key === sortKey ? -sortDir : (key === "name" ? 1 : -1);
        sortKey = key;
        table();
      });
    });
  }
  function fill(select, values, label) {
    var chosen = select.value;
    select.innerHTML = '<option value="">全部 / all</option>' + values.map(function (v) {
      return '<option value="' + esc(v[0]) + '">' + esc(label(v)) + "</option>";
    }).join("");
    select.value = chosen;
  }
  var filled = false;
  function load() {
    var params = query();
    document.getElementById("export").href = config["export"] + (params.get("division") ? "?division=" + params.get("division") : "");
    fetch(config.api + "?" + params.toString(), { credentials: "same-origin" }).then(function (r) {
      if (r.status === 401 || r.status === 403) {
        return r.json().then(function (body) {
          var msg = document.getElementById("message");
          msg.hidden = false;
          msg.innerHTML = esc(body.detail || "") + ' <a href="' + esc(config.login) + '">登录 / sign in</a>';
          throw new Error("refused");
        });
      }
      return r.json();
    }).then(function (data) {
      rows = data.enterprises;
      document.getElementById("scope").textContent = data.regulator + " · " + data.scope;
      var s = data.statistics;
      document.getElementById("stats").innerHTML =
        "<span>企业 " + s.enterprises + "</span>" + config.legend.map(function (e) {
          return '<span><span class="swatch" style="background:' + e.colour + '"></span>' + (s.by_level[e.level] || 0) + "</span>";
        }).join("") + "<span>重大隐患 " + s.open_major_hazards + "</span><span>超期 " +
        (s.overdue_major_hazards + s.overdue_general_hazards) + "</span><span>督办 " + s.listed_supervisions + "</span>";
      if (!filled) {
        filled = true;
        var uniq = function (key, label) {
          var seen = {};
          rows.forEach(function (r) { if (r[key]) { seen[r[key]] = label ? r[label] : r[key]; } });
          return Object.keys(seen).sort().map(function (k) { return [k, seen[k]]; });
        };
        fill(form.division, uniq("division_code", "division"), function (v) { return v[1] + " " + v[0]; });
        fill(form.park, uniq("park"), function (v) { return v[0]; });
        fill(form.industry, uniq("industry"), function (v) { return v[0]; });
        fill(form.level, config.legend.map(function (e) { return [e.level, e.zh]; }), function (v) { return v[1]; });
      }
      draw();
      document.body.setAttribute("data-loaded", String(rows.length));
    }).catch(function () { document.body.setAttribute("data-loaded", "error"); });
  }
  form.addEventListener("change", load);
  load();
})();
