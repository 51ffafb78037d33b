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

  var nodes = new vis.DataSet(data.nodes.map(withTooltip));
  var edges = new vis.DataSet(data.edges.map(withTooltip));
  var network = new vis.Network(document.getElementById("mynetwork"),
                                { nodes: nodes, edges: edges }, data.options);
  window.ringmapNetwork = network;
  window.ringmapStable = false;
  var layers = window.ringmapLayers.install(network, data, nodes, edges);

  function stable() {
    // Show the whole map once it is laid out: fixed positions (countries at their
    // coordinates) can lie far outside the first viewport.
    layers.fit();
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
