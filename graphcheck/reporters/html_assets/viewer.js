// graphcheck HTML report viewer: draws the call graph laid out by Graphviz (positions
// in the embedded JSON) as SVG, and adds pan/zoom, search, collapse, facts on click,
// and the scenario and profile switches. No library and no network.
(function () {
  "use strict";
  // Script errors are kept where a test (or a curious user) can read them.
  window.__gcErrors = [];
  window.addEventListener("error", function (ev) { window.__gcErrors.push(String(ev.message)); });
  var DATA = JSON.parse(document.getElementById("gc-data").textContent);
  var SCENARIOS = { fit: "fit()", predict: "predict()", call: "model(x)" };
  var ORANGE = "#E69F00", VERMILLION = "#D55E00", BLUE = "#0072B2", PURPLE = "#CC79A7";
  var PURPLE_TINT = "#F5E1EC", BLUE_TINT = "#CFE8F7", GREY_FILL = "#D9D9D9";
  var GREY_LINE = "#595959", PANEL_FROZEN = "#EDEDED";
  var BOX_H = 80, CHAR_W = 6.2;

  var nodes = DATA.nodes, edges = DATA.edges, panels = DATA.panels;
  var panelById = {};
  panels.forEach(function (p, i) { p.index = i; panelById[p.id] = p; });
  var nodeById = {};
  nodes.forEach(function (n, i) { n.index = i; nodeById[n.id] = n; });

  var state = {
    profile: 0, scenario: "fit", collapsed: {}, selected: null, panelSelected: null,
    matches: [], matchAt: -1, view: { k: 1, tx: 0, ty: 0 }
  };
  var svg = document.getElementById("gc-canvas");
  var viewport = document.getElementById("gc-viewport");
  var $ = function (id) { return document.getElementById(id); };

  function esc(text) {
    return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;");
  }
  function profile() { return DATA.profiles[state.profile]; }
  function facts(node) { return profile().nodes[node.index] || {}; }

  // ---- what is visible: collapsed submodels and the vertical space they give back ----

  function outermostCollapsed(subs) {
    for (var i = 0; i < subs.length; i++) if (state.collapsed[subs[i]]) return subs[i];
    return null;
  }
  function panelAncestors(panel) {
    var out = [];
    for (var p = panel.parent; p; p = panelById[p].parent) out.push(p);
    return out;
  }
  function panelChain(panel) { return panelAncestors(panel).reverse().concat([panel.id]); }

  // A collapsed submodel becomes a box at the top of its panel. When nothing else
  // shares the panel's rows, the rows are squeezed so the graph closes up around it.
  function computeView() {
    var boxes = [], cuts = [];
    panels.forEach(function (p) {
      if (!state.collapsed[p.id] || outermostCollapsed(panelAncestors(p).reverse())) return;
      boxes.push(p);
    });
    boxes.sort(function (a, b) { return a.y - b.y; });
    boxes.forEach(function (p) {
      var top = p.y, bottom = p.y + p.h, clear = true;
      for (var i = 0; i < nodes.length && clear; i++) {
        var n = nodes[i];
        if (n.sub.indexOf(p.id) >= 0) continue;
        if (n.y + n.h / 2 > top && n.y - n.h / 2 < bottom) clear = false;
      }
      if (clear && p.h > BOX_H + 20) cuts.push({ top: top + BOX_H + 20, bottom: bottom });
    });
    function mapY(y) {
      var out = y;
      for (var i = 0; i < cuts.length; i++) {
        var c = cuts[i];
        if (y >= c.bottom) out -= c.bottom - c.top;
        else if (y > c.top) out -= y - c.top;
      }
      return out;
    }
    return { boxes: boxes, mapY: mapY, cut: cuts.reduce(function (s, c) { return s + c.bottom - c.top; }, 0) };
  }

  // ---- how each thing looks in the chosen scenario and profile ----

  // The role and status line of each box in each scenario come precomputed with the
  // data (look: scenario -> [role, string index]); how a role is drawn, too (styles).
  function nodeLook(node) {
    var f = facts(node), pick = f.look ? f.look[state.scenario] : null;
    var role = pick ? pick[0] : (f.role || node.kind);
    var style = DATA.styles[role] || { fill: "#FFFFFF", line: "#000000", width: 1, shape: "box" };
    var shape = style.shape === "doubleoctagon" ? "octagon" : style.shape;
    return {
      role: role, fill: style.fill, line: style.line, width: style.width, rounded: style.rounded,
      diagonals: style.diagonals, shape: shape, double: style.shape === "doubleoctagon",
      status: pick ? profile().strings[pick[1]] : ""
    };
  }

  function dash(border) {
    if (border === "dashed") return ' stroke-dasharray="7 4"';
    if (border === "dotted") return ' stroke-dasharray="2 3"';
    return "";
  }

  function polygon(x, y, w, h, kind, inset) {
    inset = inset || 0;
    var l = x - w / 2 + inset, r = x + w / 2 - inset, t = y - h / 2 + inset, b = y + h / 2 - inset;
    var c = Math.min(12, h / 3), pts;
    if (kind === "hexagon") pts = [[l + c, t], [r - c, t], [r, y], [r - c, b], [l + c, b], [l, y]];
    else pts = [[l + c, t], [r - c, t], [r, t + c], [r, b - c], [r - c, b], [l + c, b], [l, b - c], [l, t + c]];
    return pts.map(function (p) { return p[0].toFixed(1) + "," + p[1].toFixed(1); }).join(" ");
  }

  function fitText(text, width) {
    var max = Math.max(4, Math.floor((width - 16) / CHAR_W));
    return text.length > max ? text.slice(0, max - 1) + "\u2026" : text;
  }

  function nodeSvg(node, y, extraClass) {
    var f = facts(node), look = nodeLook(node), x = node.x, w = node.w, h = node.h;
    var border = f.border || "solid", out = [];
    var cls = "gc-node gc-role-" + look.role + (extraClass || "");
    out.push('<g class="' + cls + '" data-id="' + esc(node.id) + '"><title>' + esc(node.id) + "</title>");
    out.push('<rect class="gc-halo" x="' + (x - w / 2 - 5) + '" y="' + (y - h / 2 - 5) + '" width="' +
      (w + 10) + '" height="' + (h + 10) + '" rx="8"/>');
    var stroke = ' fill="' + look.fill + '" stroke="' + look.line + '" stroke-width="' +
      (border === "solid" ? look.width : Math.max(look.width, 2)) + '"' + dash(border);
    if (look.shape === "ellipse") {
      out.push('<ellipse cx="' + x + '" cy="' + y + '" rx="' + w / 2 + '" ry="' + h / 2 + '"' + stroke + "/>");
    } else if (look.shape === "octagon" || look.shape === "hexagon") {
      out.push('<polygon points="' + polygon(x, y, w, h, look.shape) + '"' + stroke + "/>");
      if (look.double) out.push('<polygon points="' + polygon(x, y, w, h, look.shape, 4) +
        '" fill="none" stroke="#000" stroke-width="1"/>');
    } else {
      out.push('<rect x="' + (x - w / 2) + '" y="' + (y - h / 2) + '" width="' + w + '" height="' + h +
        '" rx="' + (look.rounded ? 8 : 0) + '"' + stroke + "/>");
      if (look.diagonals) {
        var l = x - w / 2, t = y - h / 2, d = 8;
        out.push('<path d="M' + l + "," + (t + d) + "l" + d + "," + -d + "M" + (l + w - d) + "," + t + "l" + d +
          "," + d + "M" + l + "," + (t + h - d) + "l" + d + "," + d + "M" + (l + w - d) + "," + (t + h) + "l" +
          d + "," + -d + '" stroke="#000" fill="none"/>');
      }
    }
    if (changed(node)) out.push('<path class="gc-change" d="M' + (x + w / 2) + "," + (y - h / 2 - 7) +
      "l7,7l-7,7l-7,-7z" + '"><title>differs from ' + esc(DATA.profiles[0].title) + "</title></path>");
    var second = node.cls + (node.shape ? "  " + node.shape : "");
    var lines = [[node.name, "gc-name"], [second, ""], [look.status, ""]].filter(function (l) { return l[0]; });
    var top = y - (lines.length - 1) * 7 + 4;
    lines.forEach(function (l, i) {
      out.push('<text x="' + x + '" y="' + (top + i * 14) + '" text-anchor="middle" class="' + l[1] + '">' +
        esc(fitText(l[0], w)) + "</text>");
    });
    out.push("</g>");
    return out.join("");
  }

  function insideStats(panelId) {
    var count = 0, stochastic = 0, on = 0, inference = false, bn = 0, batch = 0;
    nodes.forEach(function (n) {
      if (n.sub.indexOf(panelId) < 0) return;
      count++;
      var f = facts(n);
      if (f.bn) { bn++; if (f.bn[state.scenario]) batch++; }
      if (f.active) {
        stochastic++;
        if (f.active[state.scenario] && !f.noop) { on++; inference = state.scenario !== "fit"; }
      }
    });
    return { count: count, stochastic: stochastic, on: on, inference: inference, bn: bn, batch: batch };
  }

  function collapsedSvg(panel, box) {
    var pf = profile().panels[panel.id] || {}, st = insideStats(panel.id);
    var frozen = pf.frozen === true, x = box.x, y = box.y, w = box.w, h = box.h;
    var line = st.on ? (st.inference ? VERMILLION : ORANGE) : (frozen ? GREY_LINE : BLUE);
    var width = st.on ? 4 : 1.5, out = [];
    out.push('<g class="gc-node gc-collapsed" data-panel="' + esc(panel.id) + '">');
    out.push('<rect class="gc-halo" x="' + (x - 5) + '" y="' + (y - 5) + '" width="' + (w + 10) +
      '" height="' + (h + 10) + '" rx="8"/>');
    out.push('<path d="M' + (x + 6) + "," + y + "l6,-6h" + (w) + "v" + h + "l-6,6" + '" fill="' +
      (frozen ? GREY_FILL : BLUE_TINT) + '" stroke="' + line + '" stroke-width="1.2"/>');
    out.push('<rect x="' + x + '" y="' + y + '" width="' + (w + 6) + '" height="' + h + '" fill="' +
      (frozen ? GREY_FILL : BLUE_TINT) + '" stroke="' + line + '" stroke-width="' + width + '"' +
      dash(pf.border) + "/>");
    var cx = x + w / 2 + 3, lines = [
      [panel.id, "gc-name"],
      [panel.cls + ", " + st.count + " layer calls, drawn as one box", ""],
      [st.stochastic ? st.stochastic + " stochastic, " + st.on + " active in " + SCENARIOS[state.scenario] :
        "no stochastic layers inside", ""],
      [st.bn ? st.bn + " BatchNormalization, " + st.batch + " using batch statistics" : "", ""]
    ].filter(function (l) { return l[0]; });
    lines.forEach(function (l, i) {
      out.push('<text x="' + cx + '" y="' + (y + 18 + i * 15) + '" text-anchor="middle" class="' + l[1] +
        '">' + esc(fitText(l[0], w)) + "</text>");
    });
    out.push(toggleSvg(panel.id, x + w - 12, y + 4, true));
    out.push("</g>");
    return out.join("");
  }

  function toggleSvg(id, x, y, collapsed) {
    return '<g class="gc-toggle" data-panel="' + esc(id) + '"><title>' + (collapsed ? "expand" : "collapse") +
      '</title><rect x="' + x + '" y="' + y + '" width="14" height="14" rx="2" fill="#fff" stroke="#333"/>' +
      '<path d="M' + (x + 3) + "," + (y + 7) + "h8" + (collapsed ? "M" + (x + 7) + "," + (y + 3) + "v8" : "") +
      '" stroke="#000" stroke-width="1.6"/></g>';
  }

  function panelSvg(panel, mapY) {
    var pf = profile().panels[panel.id] || {}, top = mapY(panel.y), bottom = mapY(panel.y + panel.h);
    var style;
    if (pf.border === "dashed") style = ' fill="' + PANEL_FROZEN + '" stroke="' + GREY_LINE + '" stroke-width="2"' + dash("dashed");
    else if (pf.border === "dotted") style = ' fill="none" stroke="' + GREY_LINE + '" stroke-width="2"' + dash("dotted");
    else style = ' fill="none" stroke="' + BLUE + '" stroke-width="1.5" rx="8"';
    var lines = pf.lines || ["", ""];  // the drawing's panel lines, precomputed
    return '<g class="gc-panel" data-panel="' + esc(panel.id) + '"><rect x="' + panel.x + '" y="' + top +
      '" width="' + panel.w + '" height="' + (bottom - top) + '"' + style + "/>" +
      '<g class="gc-panel-label" style="cursor:pointer"><text x="' + (panel.x + 26) + '" y="' + (top + 15) +
      '" font-weight="bold">' + esc(panel.id) + '</text><text x="' + (panel.x + 10) + '" y="' + (top + 31) + '">' +
      esc(fitText(panel.cls + "; " + lines[0], panel.w - 4)) + '</text><text x="' + (panel.x + 10) +
      '" y="' + (top + 46) + '">' + esc(fitText(lines[1], panel.w - 4)) + "</text></g>" + toggleSvg(panel.id, panel.x + 6, top + 5, false) + "</g>";
  }

  function edgeLook(e) {
    var ef = profile().edges[e];
    if (!ef) return { color: GREY_LINE, width: 1, dash: "", marker: "gc-arrow", label: null };
    var on = ef.active[state.scenario] && !ef.noop;
    if (!on) return { color: ORANGE, width: 2, dash: ' stroke-dasharray="2 4"', marker: "gc-arrow-fit", label: ef.label, mask: "off" };
    if (state.scenario === "fit") return { color: ORANGE, width: 4, dash: "", marker: "gc-arrow-fit", label: ef.label, mask: "fit" };
    return { color: VERMILLION, width: 4, dash: ' stroke-dasharray="10 4"', marker: "gc-arrow-inference", label: ef.label, mask: "inference" };
  }

  // ---- drawing ----

  function draw() {
    var view = computeView(), mapY = view.mapY, out = [], labels = [];
    var boxOf = {};
    view.boxes.forEach(function (p) {
      var w = Math.max(240, Math.min(p.w - 12, 460));
      boxOf[p.id] = { x: p.x + (p.w - w) / 2, y: mapY(p.y), w: w, h: BOX_H - 8 };
    });
    var hidden = function (p) { return outermostCollapsed(panelChain(p)); };
    panels.slice().sort(function (a, b) { return a.depth - b.depth; }).forEach(function (p) {
      if (!hidden(p) && p.w > 0) out.push(panelSvg(p, mapY));
    });
    function anchor(i, head) {
      var n = nodes[i], c = outermostCollapsed(n.sub);
      if (c) { var b = boxOf[c]; return { key: "P" + c, x: b.x + b.w / 2, y: head ? b.y : b.y + b.h, box: true }; }
      var y = mapY(n.y);
      return { key: "N" + i, x: n.x, y: head ? y - n.h / 2 : y + n.h / 2, box: false };
    }
    var drawn = {};
    edges.forEach(function (edge, e) {
      var a = anchor(edge.t, false), b = anchor(edge.h, true);
      if (a.key === b.key) return;
      var look = edgeLook(e), d;
      var key = a.key + ">" + b.key + ">" + (look.label || "");
      if (drawn[key]) return;
      drawn[key] = true;
      var lx, ly;
      if (!a.box && !b.box && edge.p && edge.p.length >= 8) {
        var p = edge.p, n = edge.arrow ? p.length - 2 : p.length;
        d = "M" + p[0] + "," + mapY(p[1]).toFixed(1) + "C";
        for (var k = 2; k < n; k += 2) d += p[k] + "," + mapY(p[k + 1]).toFixed(1) + " ";
        if (edge.arrow) d += "L" + p[n] + "," + mapY(p[n + 1]).toFixed(1);
        if (edge.lp) { lx = edge.lp[0]; ly = mapY(edge.lp[1]); }
      } else {
        var my = (a.y + b.y) / 2;
        d = "M" + a.x + "," + a.y + "C" + a.x + "," + my + " " + b.x + "," + my + " " + b.x + "," + b.y;
        lx = (a.x + b.x) / 2 + 6; ly = my;
      }
      out.push('<g class="gc-edge' + (look.mask ? " gc-masked gc-mask-" + look.mask : "") + '" data-edge="' + e +
        '"><path d="' + d + '" stroke="' + look.color + '" stroke-width="' + look.width + '"' + look.dash +
        ' marker-end="url(#' + look.marker + ')"/></g>');
      if (look.label && lx !== undefined) {
        labels.push('<g class="gc-edge gc-edge-label"><text x="' + lx + '" y="' + ly + '" text-anchor="middle"' +
          ' paint-order="stroke" stroke="#fff" stroke-width="3">' + esc(look.label) + "</text></g>");
      }
    });
    var matchSet = {};
    state.matches.forEach(function (i) {
      var c = outermostCollapsed(nodes[i].sub);
      matchSet[c ? "P" + c : "N" + i] = true;
    });
    nodes.forEach(function (n, i) {
      if (outermostCollapsed(n.sub)) return;
      var extra = (matchSet["N" + i] ? " gc-match" : "") + (state.selected === i ? " gc-selected" : "") +
        (changed(n) ? " gc-changed" : "");
      out.push(nodeSvg(n, mapY(n.y), extra));
    });
    view.boxes.forEach(function (p) {
      var html = collapsedSvg(p, boxOf[p.id]);
      if (matchSet["P" + p.id]) html = html.replace('class="gc-node gc-collapsed"', 'class="gc-node gc-collapsed gc-match"');
      out.push(html);
    });
    viewport.innerHTML = out.join("") + labels.join("");
    state.height = DATA.size.h - view.cut;
    applyView();
  }

  // ---- pan and zoom ----

  function applyView() {
    var v = state.view;
    viewport.setAttribute("transform", "translate(" + v.tx.toFixed(1) + "," + v.ty.toFixed(1) + ") scale(" + v.k.toFixed(4) + ")");
  }
  function fitAll() {
    var r = svg.getBoundingClientRect(), w = DATA.size.w + 40, h = (state.height || DATA.size.h) + 40;
    var k = Math.min(r.width / w, r.height / h, 1.2);
    state.view = { k: k, tx: (r.width - DATA.size.w * k) / 2, ty: 20 * k };
    applyView();
  }
  // Opening view: the whole graph when it is readable at that size, else the top of
  // it at a readable size, centred on the first model input.
  function initialView() {
    var r = svg.getBoundingClientRect(), h = (state.height || DATA.size.h) + 40;
    var k = Math.min(r.width / (DATA.size.w + 40), r.height / h, 1);
    if (k >= 0.6) { fitAll(); return; }
    var first = nodes.reduce(function (a, n) { return n.y < a.y ? n : a; }, nodes[0]);
    k = 0.9;
    state.view = { k: k, tx: r.width / 2 - first.x * k, ty: 20 };
    applyView();
  }
  function centerOn(x, y) {
    var r = svg.getBoundingClientRect(), v = state.view;
    if (v.k < 0.6) v.k = 0.9;
    v.tx = r.width / 2 - x * v.k; v.ty = r.height / 2 - y * v.k;
    applyView();
  }
  svg.addEventListener("wheel", function (ev) {
    ev.preventDefault();
    var r = svg.getBoundingClientRect(), v = state.view;
    var px = ev.clientX - r.left, py = ev.clientY - r.top;
    var f = Math.exp(-ev.deltaY * (ev.deltaMode ? 0.05 : 0.0015));
    var k = Math.min(8, Math.max(0.02, v.k * f));
    v.tx = px - (px - v.tx) * k / v.k; v.ty = py - (py - v.ty) * k / v.k; v.k = k;
    applyView();
  }, { passive: false });
  var drag = null;
  svg.addEventListener("pointerdown", function (ev) {
    drag = { x: ev.clientX, y: ev.clientY, tx: state.view.tx, ty: state.view.ty, moved: false };
  });
  window.addEventListener("pointermove", function (ev) {
    if (!drag) return;
    var dx = ev.clientX - drag.x, dy = ev.clientY - drag.y;
    if (!drag.moved && Math.abs(dx) + Math.abs(dy) < 4) return;
    drag.moved = true; svg.classList.add("gc-dragging");
    state.view.tx = drag.tx + dx; state.view.ty = drag.ty + dy;
    applyView();
  });
  window.addEventListener("pointerup", function () {
    svg.classList.remove("gc-dragging");
    setTimeout(function () { drag = null; }, 0);
  });

  // ---- clicks: toggles, nodes, panels ----

  viewport.addEventListener("click", function (ev) {
    if (drag && drag.moved) return;
    var toggle = ev.target.closest(".gc-toggle");
    if (toggle) { setCollapsed(toggle.getAttribute("data-panel"), !state.collapsed[toggle.getAttribute("data-panel")]); return; }
    var box = ev.target.closest(".gc-collapsed");
    if (box) { showPanel(box.getAttribute("data-panel")); return; }
    var node = ev.target.closest(".gc-node");
    if (node) { select(nodeById[node.getAttribute("data-id")].index); return; }
    var label = ev.target.closest(".gc-panel");
    if (label) showPanel(label.getAttribute("data-panel"));
  });
  viewport.addEventListener("dblclick", function (ev) {
    var box = ev.target.closest(".gc-collapsed");
    if (box) setCollapsed(box.getAttribute("data-panel"), false);
  });
  function setCollapsed(id, value) {
    if (value) state.collapsed[id] = true; else delete state.collapsed[id];
    draw();
  }

  // ---- facts ----

  function yesNo(v) { return v === true ? "yes" : v === false ? "no" : "unknown"; }
  function link(id) { return '<span class="gc-link" data-goto="' + esc(id) + '">' + esc(id) + "</span>"; }
  function row(k, v) { return "<tr><td>" + esc(k) + "</td><td>" + v + "</td></tr>"; }
  function findingsHtml(list) {
    if (!list || !list.length) return "";
    return "<h3>Findings</h3><ul class=\"gc-findings\">" + list.map(function (f) {
      return '<li><span class="gc-sev-' + esc(f[0]) + '">' + esc(f[0]) + "</span> " + esc(f[1]) + " " +
        esc(f[2]) + ": " + esc(f[3]) + (f[4] ? " <i>(" + esc(f[4]) + ")</i>" : "") + "</li>";
    }).join("") + "</ul>";
  }

  function select(i) {
    state.selected = i; state.panelSelected = null;
    draw(); showFacts();
  }
  function showPanel(id) {
    state.panelSelected = id; state.selected = null;
    draw(); showFacts();
  }

  function showFacts() {
    var box = $("gc-facts");
    if (state.selected !== null) box.innerHTML = nodeFacts(nodes[state.selected]);
    else if (state.panelSelected) box.innerHTML = panelFacts(panelById[state.panelSelected]);
    else box.innerHTML = modelFacts();
  }

  function nodeFacts(node) {
    var f = facts(node), s = state.scenario, h = [];
    h.push("<h2>" + esc(node.name) + "</h2><table>");
    h.push(row("path", esc(node.id)));
    h.push(row("class", esc(node.cls)));
    if (node.shape) h.push(row("output", esc(node.shape)));
    if (node.sub.length) h.push(row("inside", node.sub.map(link).join(" \u203a ")));
    if (node.kind === "layer") {
      var declared = f.trainable === true ? "trainable=True" : f.trainable === false ? "trainable=False" : "not recorded";
      h.push(row("declared", declared));
      h.push(row("frozen", f.frozen === true ? "yes, " + frozenBy(f, node.id) :
        f.frozen === false ? "no" : "unknown (a submodel's flag is not recorded)"));
      h.push(row("weights", f.has_weights === false ? "none" : f.will_train === null ? "unknown" :
        (f.will_train ? "update in fit()" : "stay fixed in fit()") + (f.status ? " (" + esc(f.status) + ")" : "")));
      h.push(row("call site", f.training_flag === null || f.training_flag === undefined ? "no training= stored" :
        "training=" + (f.training_flag ? "True" : "False") + " stored"));
    }
    h.push("</table>");
    if (f.training) {
      h.push("<h3>training received</h3><table class=\"gc-training\">");
      Object.keys(SCENARIOS).forEach(function (k) {
        var t = f.training[k], on = k === s ? " style=\"background:#fff4d6\"" : "";
        h.push("<tr" + on + "><td>" + SCENARIOS[k] + "</td><td><b>" + (t[0] ? "True" : "False") + "</b>: " +
          esc(profile().strings[t[1]]) + "</td></tr>");
      });
      h.push("</table>");
    }
    if (f.active) {
      var kind = DATA.kinds[f.kind];  // the kind's facts (graphcheck.kinds)
      h.push("<h3>Stochastic: " + esc(f.what) + "</h3><table class=\"gc-active\">");
      Object.keys(SCENARIOS).forEach(function (k) {
        var on = f.active[k] && !f.noop;
        h.push(row(SCENARIOS[k], '<span class="' + (on ? "gc-on\">active" : "gc-off\">off") + "</span>"));
      });
      h.push(row("why", esc(f.reason)));
      if (f.sampled) h.push(row("draws from", f.masks.map(link).join(", ") + " (read, not changed)"));
      else if (f.masks.length || kind.acts_on_input) h.push(row(kind.verb, !f.masks.length ? "nothing" :
        kind.target + f.masks.map(link).join(", ") + (kind.target ? "" : " (its output)")));
      if (f.internal.length) h.push(row("also masks", esc(f.internal.join(", "))));
      if (f.masked_inside) {
        h.push(row("consumed", "inside its own call"));
        h.push(row("output read by", (f.output_consumers.length ?
          f.output_consumers.map(link).join(", ") : "none") + " (not masked)"));
      } else h.push(row("consumers", f.consumers.length ? f.consumers.map(link).join(", ") : "none"));
      if (f.feeds_output) h.push(row("", "feeds a model output"));
      if (f.grad.length) h.push(row("masked grads", f.grad.map(link).join(", ")));
      if (f.transform) {
        h.push(row("when active", esc(f.transform[0])));
        h.push(row("otherwise", esc(f.transform[1])));
      }
      h.push("</table>");
    }
    if (f.bn) {
      h.push("<h3>BatchNormalization</h3><table class=\"gc-bn\">");
      Object.keys(SCENARIOS).forEach(function (k) {
        h.push(row(SCENARIOS[k], f.bn[k] ? '<span class="gc-on">batch statistics</span>' : "moving statistics"));
      });
      h.push(row("why", esc(f.reason)));
      h.push("</table>");
    }
    if (f.masked_by) h.push("<h3>Its output is masked by</h3>" + f.masked_by.map(link).join(", "));
    h.push(findingsHtml(f.findings));
    var diff = changesOf(node);
    if (diff.length) h.push("<h3>From " + esc(DATA.profiles[0].title) + " to " + esc(profile().title) + "</h3><ul>" +
      diff.map(function (d) { return "<li>" + esc(d) + "</li>"; }).join("") + "</ul>");
    return h.join("");
  }

  // Who declared it frozen: its own flag, an enclosing submodel, or the top model.
  function frozenBy(f, self) {
    if (f.frozen_by_kind === "model") return "by the top model " + esc(f.frozen_by) + " (trainable=False)";
    if (f.frozen_by_kind === "layer" || !f.frozen_by || f.frozen_by === self) return "by its own trainable=False";
    return "by " + link(f.frozen_by) + " (trainable=False)";
  }

  function panelFacts(panel) {
    var pf = profile().panels[panel.id] || {}, st = insideStats(panel.id), h = [];
    h.push("<h2>" + esc(panel.id) + "</h2><table>");
    h.push(row("class", esc(panel.cls) + " (submodel)"));
    if (panel.parent) h.push(row("inside", link(panel.parent)));
    h.push(row("declared", pf.trainable === true ? "trainable=True" : pf.trainable === false ? "trainable=False" : "not recorded"));
    h.push(row("frozen", pf.frozen === true ? "yes, " + frozenBy(pf, panel.id) :
      pf.frozen === false ? "no" : "unknown"));
    h.push(row("call site", pf.training_flag === null || pf.training_flag === undefined ? "no training= stored" :
      "training=" + (pf.training_flag ? "True" : "False") + " stored"));
    if (pf.call) h.push(row("call", esc(pf.call)));
    h.push(row("inside", st.count + " layer calls, " + st.stochastic + " stochastic, " + st.on + " active in " + SCENARIOS[state.scenario]));
    h.push("</table>");
    h.push(findingsHtml(pf.findings));
    return h.join("");
  }

  function modelFacts() {
    var p = profile(), h = [];
    h.push("<h2>" + esc(DATA.model.name) + "</h2><table>");
    h.push(row("file", esc(DATA.file)));
    if (DATA.format !== "live") h.push(row("saved by", "Keras " + esc(DATA.keras_version || "(not recorded)")));
    if (DATA.source && DATA.source !== "stored config") h.push(row("graph", esc(DATA.source)));
    h.push(row("profile", esc(p.title) + " [" + esc(p.name) + "]"));
    h.push(row("chosen for", esc(p.source)));
    h.push(row("rule", esc(p.rule)));
    h.push(row("findings", String(p.finding_count)));
    h.push("</table><p>Click a box for its facts, a panel's label for the submodel's; the square on a panel collapses it.</p>");
    h.push(findingsHtml(p.findings));
    return h.join("");
  }

  // ---- profile comparison ----

  function summary(f) {
    return JSON.stringify([f.active, f.bn, f.will_train, f.frozen, f.training ? Object.keys(SCENARIOS).map(function (k) { return f.training[k][0]; }) : null]);
  }
  function changed(node) {
    if (state.profile === 0) return false;
    var a = DATA.profiles[0].nodes[node.index] || {}, b = facts(node);
    return summary(a) !== summary(b);
  }
  // What differs from the first profile, "before -> after" (as `graphcheck diff` says it).
  function changesOf(node) {
    if (state.profile === 0) return [];
    var a = DATA.profiles[0].nodes[node.index] || {}, b = facts(node), out = [];
    function was(x, y, on, off) { return (x ? on : off) + " -> " + (y ? on : off); }
    Object.keys(SCENARIOS).forEach(function (k) {
      if (a.active && b.active && a.active[k] !== b.active[k])
        out.push(SCENARIOS[k] + ": " + was(a.active[k], b.active[k], "active", "off"));
      if (a.bn && b.bn && a.bn[k] !== b.bn[k])
        out.push(SCENARIOS[k] + ": " + was(a.bn[k], b.bn[k], "batch", "moving") + " statistics");
      if (a.training && b.training && a.training[k][0] !== b.training[k][0])
        out.push(SCENARIOS[k] + ": receives training=" + was(a.training[k][0], b.training[k][0], "True", "False"));
    });
    if (a.will_train !== b.will_train) out.push("weights " + was(a.will_train, b.will_train, "train", "stay fixed"));
    return out;
  }
  // Calls whose stochastic activity changes come first; inside an outermost
  // submodel, calls that change alike are one line (a frozen base's 228 calls).
  function showChanges() {
    var box = $("gc-changes");
    if (state.profile === 0) { box.innerHTML = ""; return; }
    var list = nodes.filter(changed), groups = [], byKey = {};
    list.forEach(function (n) {
      var what = changesOf(n).join("; "), key = (n.sub[0] || "") + "\n" + what;
      if (!n.sub.length || !byKey[key]) {
        byKey[key] = { first: n, what: what, count: 0, active: /: (active|off) -> /.test(what) };
        groups.push(byKey[key]);
      }
      byKey[key].count += 1;
    });
    groups.sort(function (x, y) { return (y.active - x.active) || (x.first.index - y.first.index); });
    var h = ["<h3>What changes from " + esc(DATA.profiles[0].title) + " to " + esc(profile().title) + "</h3>"];
    if (!list.length) h.push("<p>Nothing: every call behaves the same.</p>");
    else h.push('<p>' + list.length + ' call(s), marked with a pink diamond:</p><ul id="gc-change-list">' + groups.map(function (g) {
      var who = g.count > 1 ? link(g.first.sub[0]) + " (" + g.count + " calls)" : link(g.first.id);
      return "<li>" + who + ": " + esc(g.what) + "</li>";
    }).join("") + "</ul>");
    box.innerHTML = h.join("");
  }

  // ---- legend ----

  function styleRow(role) {
    var style = DATA.styles[role];
    return [style.legend.replace(/\n/g, " "), "box", style.fill, style.line];
  }

  function showLegend() {
    var rows = [
      ["stochastic layer active in fit()", "octagon", ORANGE, "#000"],
      ["stochastic layer active at inference (predict() or model(x))", "octagon", VERMILLION, "#000"],
      ["stochastic layer off in this scenario", "octagon", "#fff", ORANGE],
      ["BatchNormalization using batch statistics", "hexagon", PURPLE, "#000"],
      ["BatchNormalization using moving statistics", "hexagon", PURPLE_TINT, PURPLE],
      // The same in every scenario: worded and drawn as the PDF's legend says (DATA.styles).
      styleRow("trainable"), styleRow("frozen"), styleRow("weightless"), styleRow("unknown")
    ];
    var h = ["<h3>Legend</h3>"];
    rows.forEach(function (r) {
      var shape = r[1] === "box" ? '<rect x="2" y="4" width="36" height="16" fill="' + r[2] + '" stroke="' + r[3] + '" stroke-width="1.5"/>' :
        '<polygon points="' + polygon(20, 12, 36, 18, r[1]) + '" fill="' + r[2] + '" stroke="' + r[3] + '" stroke-width="2"/>';
      h.push('<div class="gc-legend-row"><svg width="40" height="24">' + shape + "</svg>" + esc(r[0]) + "</div>");
    });
    [["tensor masked in this scenario (fit())", ORANGE, "", 4], ["tensor masked at inference", VERMILLION, "10 4", 4],
     ["tensor a stochastic layer leaves alone here", ORANGE, "2 4", 2], ["tensor", GREY_LINE, "", 1]].forEach(function (r) {
      h.push('<div class="gc-legend-row"><svg width="40" height="24"><path d="M2,12H38" stroke="' + r[1] + '" stroke-width="' + r[3] +
        '" stroke-dasharray="' + r[2] + '"/></svg>' + esc(r[0]) + "</div>");
    });
    h.push("<p>Dashed border: declared trainable=False (own flag, an enclosing submodel's or the top model's); dotted: unknown. " +
      "Grey dashed panel: frozen submodel. Pink diamond: differs from the first profile.</p>");
    $("gc-legend").innerHTML = h.join("");
  }

  // ---- search ----

  function search(query) {
    var q = query.trim().toLowerCase();
    state.matches = [];
    state.matchAt = -1;
    if (q) nodes.forEach(function (n, i) {
      if (n.name.toLowerCase().indexOf(q) >= 0 || n.id.toLowerCase().indexOf(q) >= 0) state.matches.push(i);
    });
    $("gc-search-count").textContent = q ? (state.matches.length ? state.matches.length + " match" +
      (state.matches.length === 1 ? "" : "es") : "no match") : "";
    draw();
  }
  function goTo(i) {
    nodes[i].sub.forEach(function (p) { delete state.collapsed[p]; });
    state.selected = i; state.panelSelected = null;
    draw(); showFacts();
    var view = computeView();
    centerOn(nodes[i].x, view.mapY(nodes[i].y));
  }
  $("gc-search").addEventListener("input", function (ev) { search(ev.target.value); });
  $("gc-search").addEventListener("keydown", function (ev) {
    if (ev.key !== "Enter" || !state.matches.length) return;
    state.matchAt = (state.matchAt + (ev.shiftKey ? -1 : 1) + state.matches.length) % state.matches.length;
    $("gc-search-count").textContent = (state.matchAt + 1) + " of " + state.matches.length;
    goTo(state.matches[state.matchAt]);
  });
  $("gc-side").addEventListener("click", function (ev) {
    var t = ev.target.closest("[data-goto]");
    if (!t) return;
    var id = t.getAttribute("data-goto");
    if (nodeById[id]) goTo(nodeById[id].index);
    else if (panelById[id]) showPanel(id);
  });

  // ---- switches and buttons ----

  var profileSelect = $("gc-profile");
  DATA.profiles.forEach(function (p, i) {
    var o = document.createElement("option");
    o.value = String(i);
    o.textContent = p.title + (i === 0 ? " (chosen: " + p.source + ")" : "");
    profileSelect.appendChild(o);
  });
  profileSelect.addEventListener("change", function () {
    state.profile = Number(profileSelect.value);
    draw(); showFacts(); showChanges();
  });
  $("gc-scenario").addEventListener("change", function (ev) {
    state.scenario = ev.target.value;
    draw(); showFacts();
  });
  $("gc-collapse-all").addEventListener("click", function () {
    panels.forEach(function (p) { if (!p.parent) state.collapsed[p.id] = true; });
    draw();
  });
  $("gc-expand-all").addEventListener("click", function () { state.collapsed = {}; draw(); });
  $("gc-fit").addEventListener("click", fitAll);
  // "/" jumps to the search box; Escape leaves it, or clears the selection.
  document.addEventListener("keydown", function (ev) {
    var typing = document.activeElement && /^(INPUT|SELECT)$/.test(document.activeElement.tagName);
    if (ev.key === "/" && !typing) { ev.preventDefault(); $("gc-search").focus(); }
    else if (ev.key === "Escape") {
      if (typing) document.activeElement.blur();
      else { state.selected = null; state.panelSelected = null; draw(); showFacts(); }
    }
  });
  // The file's own name, cut if it must be; the Keras version and the count are never cut.
  $("gc-title").innerHTML = '<span id="gc-file" title="' + esc(DATA.file) + '">' +
    esc(DATA.file.split("/").pop() || DATA.file) + "</span> <small>Keras " +
    esc(DATA.keras_version || "version not recorded") + " \u00b7 " +
    nodes.filter(function (n) { return n.kind === "layer"; }).length + " layer calls</small>";

  // The submodels `render --collapse frozen|all` asked to open as one box.
  (DATA.collapsed || []).forEach(function (id) { state.collapsed[id] = true; });
  draw();
  initialView();
  showFacts();
  showLegend();
  window.__gcReadyMs = performance.now();
  document.body.setAttribute("data-ready", "1");
})();
