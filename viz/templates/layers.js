(function () {
  "use strict";
  // Optional layers of a map, each driven by the JSON block and inert: shapes drawn on the
  // canvas under the nodes (country outlines), a fit that also shows a given rectangle, a
  // switch between edge widths, and a time filter hiding what was not active in a window.
  // Nothing here turns data into markup: controls are built with createElement and filled
  // with textContent, dates are compared as ISO strings.

  function el(tag, text) {
    var node = document.createElement(tag);
    if (text !== undefined) { node.textContent = String(text); }
    return node;
  }

  function drawBackdrop(network, shapes) {
    network.on("beforeDrawing", function (ctx) {
      var hair = 1 / network.getScale();
      shapes.forEach(function (shape) {
        ctx.save();
        if (shape.clip) {
          ctx.beginPath();
          ctx.rect(shape.clip[0], shape.clip[1], shape.clip[2] - shape.clip[0],
                   shape.clip[3] - shape.clip[1]);
          ctx.clip();
        }
        ctx.beginPath();
        shape.rings.forEach(function (ring) {
          for (var i = 0; i + 1 < ring.length; i += 2) {
            if (i === 0) { ctx.moveTo(ring[0], ring[1]); } else { ctx.lineTo(ring[i], ring[i + 1]); }
          }
          if (shape.closed) { ctx.closePath(); }
        });
        if (shape.fill && shape.closed) {
          ctx.fillStyle = shape.fill;
          ctx.fill("evenodd");
        }
        ctx.lineWidth = hair;
        ctx.strokeStyle = shape.stroke;
        ctx.stroke();
        ctx.restore();
      });
    });
  }

  function fitter(network, data) {
    // vis-network fits the nodes only; a map with outlines must show them too, and every
    // node with its label.
    return function () {
      if (!data.bounds) {
        network.fit({ animation: false });
        return;
      }
      var box = data.bounds.slice();
      network.body.nodeIndices.forEach(function (id) {
        var b = network.getBoundingBox(id);
        box = [Math.min(box[0], b.left), Math.min(box[1], b.top),
               Math.max(box[2], b.right), Math.max(box[3], b.bottom)];
      });
      var frame = network.body.container;
      var scale = 0.97 * Math.min(frame.clientWidth / (box[2] - box[0]),
                                  frame.clientHeight / (box[3] - box[1]));
      network.moveTo({ position: { x: (box[0] + box[2]) / 2, y: (box[1] + box[3]) / 2 },
                       scale: scale, animation: false });
    };
  }

  function weightSwitch(tools, data, edges) {
    var label = el("label", "Arc width:");
    var select = el("select");
    select.id = "rm-weights";
    Object.keys(data.weights).forEach(function (key) {
      var option = el("option", data.weights[key]);
      option.value = key;
      select.appendChild(option);
    });
    label.appendChild(select);
    tools.appendChild(label);
    select.addEventListener("change", function () {
      edges.update(edges.get({ filter: function (e) { return !!e.weights; } }).map(
        function (e) { return { id: e.id, width: e.weights[select.value] }; }));
    });
  }

  function timeFilter(tools, data, nodes, edges) {
    var box = el("span");
    box.id = "rm-time";
    var from = el("input");
    var to = el("input");
    var status = el("span");
    status.id = "rm-time-status";
    [[from, "rm-from", "active from"], [to, "rm-to", "active until"]].forEach(function (x) {
      x[0].type = "date";
      x[0].id = x[1];
      x[0].min = data.window[0];
      x[0].max = data.window[1];
      x[0].setAttribute("aria-label", x[2]);
    });
    from.value = data.window[0];
    to.value = data.window[1];
    box.appendChild(el("span", "Active"));
    box.appendChild(from);
    box.appendChild(el("span", "to"));
    box.appendChild(to);
    box.appendChild(status);
    tools.appendChild(box);

    function outside(item, start, end) {
      return !!item.active && (item.active[1] < start || item.active[0] > end);
    }
    function apply() {
      var start = from.value || data.window[0];
      var end = to.value || data.window[1];
      var hidden = {};
      var changes = nodes.get().map(function (n) {
        hidden[n.id] = outside(n, start, end);
        return { id: n.id, hidden: hidden[n.id] };
      });
      nodes.update(changes);
      edges.update(edges.get().map(function (e) {
        return { id: e.id, hidden: outside(e, start, end) || hidden[e.from] || hidden[e.to] };
      }));
      var count = changes.filter(function (c) { return c.hidden; }).length;
      status.textContent = count ? count + " hidden" : "";
    }
    if (data.windowShown) {
      from.value = data.windowShown[0];
      to.value = data.windowShown[1];
      apply();
    }
    from.addEventListener("change", apply);
    to.addEventListener("change", apply);
    from.addEventListener("input", apply);
    to.addEventListener("input", apply);
  }

  window.ringmapLayers = {
    install: function (network, data, nodes, edges) {
      var tools = document.getElementById("rm-tools");
      if (data.backdrop && data.backdrop.length) { drawBackdrop(network, data.backdrop); }
      if (data.weights) { weightSwitch(tools, data, edges); }
      if (data.window) { timeFilter(tools, data, nodes, edges); }
      return { fit: fitter(network, data) };
    }
  };
})();
