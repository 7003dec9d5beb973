// A person's good/bad label, drawn as a badge at the top right of its node: a
// green disc with a tick or a red disc with a cross, stroked on the canvas (no
// glyph, so no emoji font is needed). Nodes carry `labelled: "good" | "bad" | ""`.
// Shared by the live tree (assets/tree_component.js) and the HTML export: both
// put this file in front of their own script.

const TREELIGHT_LABEL_COLOURS = { good: "#1a9850", bad: "#d73027" };

// Where a node's badge sits, in canvas coordinates (the browser tests read it too).
function treelightBadgeAt(position, node) {
  const offset = (node.size || 10) * 0.9;
  return { x: position.x + offset, y: position.y - offset, radius: 7 };
}

function treelightDrawLabels(network, nodes) {
  network.on("afterDrawing", (ctx) => {
    const ids = nodes.getIds({ filter: (node) => Boolean(TREELIGHT_LABEL_COLOURS[node.labelled]) });
    if (!ids.length) return;
    const positions = network.getPositions(ids);
    for (const id of ids) {
      if (!positions[id]) continue;
      const node = nodes.get(id);
      const { x, y, radius } = treelightBadgeAt(positions[id], node);
      ctx.beginPath();
      ctx.arc(x, y, radius, 0, 2 * Math.PI);
      ctx.fillStyle = TREELIGHT_LABEL_COLOURS[node.labelled];
      ctx.fill();
      ctx.lineWidth = 1.5;
      ctx.strokeStyle = "#ffffff";
      ctx.stroke();
      ctx.beginPath();
      ctx.lineWidth = 2;
      ctx.lineCap = "round";
      if (node.labelled === "good") {
        ctx.moveTo(x - 3.5, y);
        ctx.lineTo(x - 1, y + 3);
        ctx.lineTo(x + 3.5, y - 3);
      } else {
        ctx.moveTo(x - 3, y - 3);
        ctx.lineTo(x + 3, y + 3);
        ctx.moveTo(x + 3, y - 3);
        ctx.lineTo(x - 3, y + 3);
      }
      ctx.stroke();
    }
  });
}
