(function () {
  "use strict";
  // Everything shown comes from the JSON block and goes into the page as text, never markup:
  // labels are drawn on the canvas, tooltips and the legend are elements filled via textContent.
  var data = JSON.parse(document.getElementById("rm-data").textContent);

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined) { node.textContent = String(text); }
    return node;
  }

  // Nodes and edges come as rows of data.fields (then a dict of any other keys), a node's
  // id being its row's index; a tooltip
  // is a string, or a list of its lines with each line shared by several tooltips given by
  // its index in data.lines.
  function items(kind) {
    var fields = data.fields[kind];
    return data[kind].map(function (row, index) {
      var item = kind === "nodes" ? { id: index } : {};
      var last = row[row.length - 1];
      var extra = last !== null && typeof last === "object" && !Array.isArray(last);
      fields.forEach(function (field, i) {
        if (i < row.length - (extra ? 1 : 0) && row[i] !== null) { item[field] = row[i]; }
      });
      if (extra) { Object.assign(item, last); }
      if (Array.isArray(item.title)) {
        item.title = item.title.map(function (line) {
          return typeof line === "number" ? data.lines[line] : line;
        }).join("\n");
      }
      return item;
    });
  }

  function withTooltip(item) {
    var copy = Object.assign({}, item);
    if (typeof item.title === "string") { copy.title = el("div", "rm-tip", item.title); }
    return copy;
  }

  document.title = data.heading;
  document.getElementById("rm-heading").textContent = data.heading;
  if (data.banner) {
    var banner = document.getElementById("rm-banner");
    banner.textContent = data.banner;
    banner.hidden = false;
  }

  var legend = document.getElementById("rm-legend");
  (data.legend || []).forEach(function (section) {
    legend.appendChild(el("h2", "", section.title));
    section.items.forEach(function (item) {
      var row = el("div", "rm-item");
      var glyph = el("span", "rm-glyph", item.glyph);
      glyph.style.color = item.color;
      row.appendChild(glyph);
      row.appendChild(el("span", "", item.label));
      legend.appendChild(row);
    });
  });
  (data.notes || []).forEach(function (note) { legend.appendChild(el("div", "rm-note", note)); });

  function withLook(item) {
    // a node names its look (shape, colour, size, label options), shared by nodes alike
    var copy = withTooltip(item);
    var look = (data.looks || {})[item.look];
    delete copy.look;
    if (look) {
      copy.shape = look.shape;
      copy.color = look.color;
      copy.size = look.size;
      if (look.font) { copy.font = Object.assign({}, look.font); }
    }
    return copy;
  }

  var nodeItems = items("nodes");
  var labels = {};
  nodeItems.forEach(function (node) { labels[node.id] = node.label || ""; });
  var nodes = new vis.DataSet(nodeItems.map(withLook));
  var edges = new vis.DataSet(items("edges").map(function (edge) {
    if (edge.ends && typeof edge.title === "string") {
      // the labels of both ends after the first line, as text like the rest
      var cut = edge.title.indexOf("\n");
      var head = cut < 0 ? edge.title : edge.title.slice(0, cut);
      edge.title = head + ": " + labels[edge.from] + " \u2192 " + labels[edge.to] +
        (cut < 0 ? "" : edge.title.slice(cut));
    }
    delete edge.ends;
    return withTooltip(edge);
  }));
  var network = new vis.Network(document.getElementById("mynetwork"),
                                { nodes: nodes, edges: edges }, data.options);
  window.ringmapNetwork = network;
  window.ringmapStable = false;
  var layers = window.ringmapLayers.install(network, data, nodes, edges);

  // Groups (the cells of the overview) are halos drawn on the canvas behind their nodes; a
  // click on one, or on its name, zooms to it, and "Whole map" fits everything again.
  // Strokes (pairs of node ids, flat) are plain lines drawn over the halos, under the nodes,
  // from where the nodes are now.
  var groups = data.groups || [];
  var strokes = data.strokes || [];
  var drawn = network.body.nodes;
  network.on("beforeDrawing", function (ctx) {
    groups.forEach(function (group) {
      ctx.beginPath();
      ctx.arc(group.x, group.y, group.r, 0, 2 * Math.PI);
      ctx.globalAlpha = 0.12;
      ctx.fillStyle = group.color;
      ctx.fill();
      ctx.globalAlpha = 0.8;
      ctx.lineWidth = Math.max(2, 2 / network.getScale());
      ctx.strokeStyle = group.color;
      ctx.stroke();
      ctx.globalAlpha = 1;
    });
    if (strokes.length) {
      ctx.beginPath();
      for (var i = 0; i + 1 < strokes.length; i += 2) {
        var a = drawn[strokes[i]], b = drawn[strokes[i + 1]];
        if (a && b && !a.options.hidden && !b.options.hidden) {
          ctx.moveTo(a.x, a.y);
          ctx.lineTo(b.x, b.y);
        }
      }
      ctx.lineWidth = 1;
      ctx.strokeStyle = data.options.edges.color.color;
      ctx.stroke();
    }
  });
  function groupAt(point, node) {
    for (var i = 0; i < groups.length; i++) {
      var g = groups[i];
      if (g.node === node || Math.pow(point.x - g.x, 2) + Math.pow(point.y - g.y, 2) <= g.r * g.r) {
        return g;
      }
    }
    return null;
  }
  network.on("click", function (params) {
    var hit = params.nodes.length ? params.nodes[0] : null;
    var group = groupAt(params.pointer.canvas, hit);
    if (group && (hit === null || hit === group.node)) {
      var frame = network.body.container;
      network.moveTo({ position: { x: group.x, y: group.y }, animation: false,
                       scale: 0.95 * Math.min(frame.clientWidth, frame.clientHeight) / (2 * group.r) });
      capLabels();
    }
  });
  document.getElementById("rm-fit").addEventListener("click", function () {
    capLabels(1e-9);  // the fit measures labels at their own size, then caps them
    layers.fit();
    capLabels();
  });

  // Big labels (headings, cell names: sized to read at the whole-map view) are drawn at
  // most BIG_LABEL pixels high when zoomed in, or one would cover a cell; vis-network's own
  // scaling.label.maxVisible does not change the size drawn.
  var BIG_LABEL = 28;
  var big = nodes.get({ filter: function (n) { return n.font && n.font.size > BIG_LABEL; } })
    .map(function (n) { return { id: n.id, size: n.font.size, shown: n.font.size }; });
  function capLabels(at) {
    var scale = at || network.getScale();
    var changed = [];
    big.forEach(function (n) {
      var wanted = Math.min(n.size, BIG_LABEL / scale);
      if (Math.abs(wanted - n.shown) > 0.05 * n.shown) {
        n.shown = wanted;
        changed.push({ id: n.id, font: { size: wanted } });
      }
    });
    if (changed.length) { nodes.update(changed); }
  }
  network.on("zoom", capLabels);

  function stable() {
    // Show the whole map once it is laid out: fixed positions (countries at their
    // coordinates) can lie far outside the first viewport.
    layers.fit();
    capLabels();
    window.ringmapStableAt = performance.now();
    window.ringmapStable = true;
    document.body.setAttribute("data-stable", "true");
  }
  if (data.options.physics && data.options.physics.enabled) {
    // Freeze the layout once it has settled so the map stops moving and costs no CPU.
    network.once("stabilizationIterationsDone", function () {
      network.setOptions({ physics: false });
      stable();
    });
  } else {
    network.once("afterDrawing", stable);
  }

  var search = document.getElementById("rm-search");
  var status = document.getElementById("rm-search-status");
  function runSearch() {
    var term = search.value.trim().toLowerCase();
    if (!term) {
      network.unselectAll();
      status.textContent = "";
      return;
    }
    var found = nodes.getIds({
      filter: function (node) { return String(node.label || "").toLowerCase().indexOf(term) >= 0; }
    });
    network.selectNodes(found);
    status.textContent = found.length === 1 ? "1 match" : found.length + " matches";
    if (found.length) { network.focus(found[0], { scale: 1.2, animation: false }); }
  }
  search.addEventListener("input", runSearch);
  search.addEventListener("keydown", function (event) {
    if (event.key === "Enter") { runSearch(); }
  });
})();
