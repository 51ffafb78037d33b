(function () {
  "use strict";
  // The search box finds the names a marker stands for besides its label (data.finds: the
  // row index of a node -> names, the cells a raid city's marker draws on a map of hundreds
  // of cells). It runs after map.js's own search on the same input, adds the markers found
  // to those selected, and says where a name is. Names go into the page as text only.
  var data = JSON.parse(document.getElementById("rm-data").textContent);
  var finds = data.finds || {};
  var search = document.getElementById("rm-search");
  var status = document.getElementById("rm-search-status");
  function run() {
    var network = window.ringmapNetwork;
    var term = search.value.trim().toLowerCase();
    if (!term || !network) { return; }
    var found = [], named = [];
    Object.keys(finds).forEach(function (id) {
      finds[id].forEach(function (name) {
        if (name.toLowerCase().indexOf(term) >= 0) {
          if (found.indexOf(Number(id)) < 0) { found.push(Number(id)); }
          named.push([name, Number(id)]);
        }
      });
    });
    if (!named.length) { return; }
    var selected = network.getSelectedNodes();
    network.selectNodes(selected.concat(found.filter(function (id) {
      return selected.indexOf(id) < 0;
    })));
    // "C001" names Cell C001 itself, not Cell C0010 too
    var exact = named.filter(function (hit) {
      var name = hit[0].toLowerCase();
      return name === term || name.slice(-term.length - 1) === " " + term;
    });
    var first = exact.length === 1 ? exact[0] : named.length === 1 ? named[0] : null;
    var shown = first || named[0];
    var where = network.body.data.nodes.get(shown[1]).label || "";
    status.textContent = first ? first[0] + ": in " + where
      : named.length + " names in " + found.length + " marker" + (found.length === 1 ? "" : "s");
    network.focus(shown[1], { scale: 1.2, animation: false });
  }
  search.addEventListener("input", run);
  search.addEventListener("keydown", function (event) {
    if (event.key === "Enter") { run(); }
  });
})();
