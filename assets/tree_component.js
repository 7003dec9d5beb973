// Treelight's live tree: a Streamlit custom component (v2) around vis-network.
//
// Streamlit calls the default export on every rerun with new `data`. The
// vis.Network and its DataSets live on the host element, so the tree is
// mounted once and then updated in place from deltas: no reload, no flicker.
//
// data = {
//   lib?: string,               vis-network's source, sent once per browser session
//   reset: bool,                nodes/edges are the whole tree (else a delta on `base`)
//   version, base, base_min,    delta bookkeeping: a copy at base_min..base catches up;
//                               an older one asks for a reset
//   nodes, edges: [...],        added or changed items
//   remove_nodes, remove_edges: removed ids
//   options?: {...},            vis-network options (with a reset)
//   selected: id | null, height: px (the most it may take; it also fits the window)
//   best: [id, ...],            the best path (for "Best path")
//   fit: bool                   re-fit the view (a person changed what is shown)
//   drawn_as: string            which tree in which layout (a reset of the same one keeps the view)
//   report_drawn: bool          say "drawn" once built (the page sent the tree first, the rest waits)
//   readable_px: number         the on-screen label size the default view aims at (18 on a projector)
// }
//
// The view follows the tree as it grows until the person zooms, drags or selects
// a node; from then on it never moves by itself, until they press Fit or Readable.
// The default view is readable: the whole tree when its labels come out at 12 px
// or more, else the selected node's neighbourhood and the best path at that size
// (vis-network leaves out any label smaller than 11 px on screen), and a line in
// the corner says what it shows. Fit shows every drawn node, centred, whatever
// the label size; the tree then follows that view as it grows.
//
// Model text arrives only in `label` (drawn on a canvas) and `title` (a
// string, which vis-network shows as text). Nothing here sets innerHTML.
// A person's good/bad label is the node's `labelled` field, drawn as a badge.

export default function (component) {
  const { parentElement, data, setStateValue } = component;
  const host = parentElement;

  const entered = performance.now();
  if (!window.vis && data.lib) {
    // The UMD bundle defines `vis` on the global object; an indirect eval
    // runs it in global scope.
    (0, eval)(data.lib);
    window.__treelightLibMs = Math.round(performance.now() - entered);
  }
  if (window.__treelightFirstCall === undefined) window.__treelightFirstCall = Math.round(entered);
  if (!window.vis) {
    setStateValue("need_lib", Date.now());
    return;
  }

  let tree = host.__treelight;
  // A delta holds every change since base_min: a browser that missed a payload (a
  // rerun superseded before it was drawn) still catches up.
  const stale = !tree || tree.version < data.base_min || tree.version > data.base;
  if (!data.reset && stale) {
    setStateValue("need_full", Date.now());
    return;
  }

  const started = performance.now();
  if (!tree || data.reset) {
    // A reset of the same tree (the page lost track of what this browser has)
    // keeps the person's view: where they zoomed, panned or selected.
    let kept = null;
    if (tree) {
      if (tree.touched && tree.drawnAs === data.drawn_as) {
        kept = { position: tree.network.getViewPosition(), scale: tree.network.getScale() };
      }
      tree.network.destroy();
      tree.container.remove();
    }
    const container = document.createElement("div");
    container.className = "treelight-tree";
    container.style.width = "100%";
    host.appendChild(container);
    container.style.height = `${fitHeight(container, data.height || 560)}px`;
    const nodes = new window.vis.DataSet(data.nodes);
    const edges = new window.vis.DataSet(data.edges);
    const network = new window.vis.Network(container, { nodes, edges }, data.options);
    tree = {
      container, nodes, edges, network, version: data.version, touched: kept !== null, best: [],
      drawnAs: data.drawn_as,
    };
    host.__treelight = tree;
    container.__treelight = tree; // for the browser tests: find the network from its element
    host.__treelightMounts = (host.__treelightMounts || 0) + 1;

    network.on("click", (params) => {
      if (params.nodes.length > 0) {
        const id = params.nodes[0];
        tree.touched = true;
        if (typeof id === "number") setStateValue("selected", id);
        else setStateValue("unfold", String(id)); // a fold box: "f<parent>" or "s<node>"
      }
    });
    treelightDrawLabels(network, nodes); // assets/label_badges.js, put in front of this file
    network.on("zoom", () => { tree.touched = true; });
    network.on("dragStart", () => { tree.touched = true; });
    addViewButtons(tree);
    addShownNote(tree);
    tree.fontSize = (data.options && data.options.nodes && data.options.nodes.font.size) || 12;
    tree.readablePx = data.readable_px || READABLE_PX;
    tree.best = data.best || [];
    tree.near = data.near || [];
    tree.mode = "readable";
    if (kept) network.moveTo(kept);
    else showView(tree);
    container.dataset.buildMs = String(Math.round(performance.now() - started));
    // The page may be holding the rest back until the tree is drawn.
    if (data.report_drawn) setStateValue("drawn", Date.now());
  } else {
    if (data.remove_edges.length) tree.edges.remove(data.remove_edges);
    if (data.remove_nodes.length) tree.nodes.remove(data.remove_nodes);
    if (data.nodes.length) tree.nodes.update(data.nodes);
    if (data.edges.length) tree.edges.update(data.edges);
    tree.version = data.version;
    tree.container.dataset.applyMs = String(Math.round(performance.now() - started));
    tree.container.dataset.appliedAt = String(Math.round(performance.now()));
    const grew = data.nodes.length > 0 || data.remove_nodes.length > 0;
    if (data.fit) tree.touched = false;
    tree.best = data.best || [];
    tree.near = data.near || [];
    if ((grew || data.fit) && !tree.touched) showView(tree);
  }
  tree.best = data.best || [];
  tree.near = data.near || [];
  tree.selected = data.selected;

  // Read by the browser tests: how many nodes are drawn, and how often the
  // network was built from scratch (once, while the tree grows).
  tree.container.dataset.nodes = String(tree.nodes.length);
  // The tree's own nodes, folded ones included (a "+8 invalid" box stands for 8,
  // a node marked "+5 below" for itself and 5).
  let represented = 0;
  tree.nodes.forEach((n) => { represented += (typeof n.id === "number" ? 1 : 0) + (n.folded || 0); });
  tree.container.dataset.treeNodes = String(represented);
  tree.container.dataset.version = String(tree.version);
  tree.container.dataset.mounts = String(host.__treelightMounts);
  tree.container.dataset.touched = String(tree.touched);
  tree.container.dataset.labelled = String(tree.nodes.getIds({ filter: (n) => n.labelled }).length);
  // Selecting redraws the canvas: only when the selection changed, not every update.
  if (data.selected !== null && data.selected !== undefined && tree.nodes.get(data.selected)) {
    const now = tree.network.getSelectedNodes();
    if (now.length !== 1 || now[0] !== data.selected) tree.network.selectNodes([data.selected]);
  }
}

// Fit, zoom and focus, drawn over the tree. Labels are fixed text (no model text).
function addViewButtons(tree) {
  const bar = document.createElement("div");
  bar.className = "treelight-view";
  const animation = { duration: 300, easingFunction: "easeInOutQuad" };
  const zoom = (factor) => {
    tree.touched = true;
    tree.network.moveTo({ scale: tree.network.getScale() * factor, animation });
  };
  const buttons = [
    ["Fit", "Every drawn node in view, centred (labels too small to read are left " +
      "out); and follow the tree as it grows", () => {
      tree.touched = false;
      tree.mode = "all";
      showView(tree, animation);
    }],
    ["Readable", "The whole tree if its labels can be read, else the best path and " +
      "the selected node at a readable size; and follow the tree as it grows", () => {
      tree.touched = false;
      tree.mode = "readable";
      showView(tree, animation);
    }],
    ["+", "Zoom in", () => zoom(1.4)],
    ["\u2212", "Zoom out", () => zoom(1 / 1.4)],
    ["Best path", "Zoom to the best path so far", () => {
      const ids = tree.best.filter((id) => tree.nodes.get(id));
      if (!ids.length) return;
      tree.touched = true;
      tree.network.fit({ nodes: ids, animation, minZoomLevel: 0.6 });
    }],
    ["Selected", "Zoom to the selected node", () => {
      if (tree.selected === null || tree.selected === undefined) return;
      if (!tree.nodes.get(tree.selected)) return;
      tree.touched = true;
      tree.network.focus(tree.selected, { scale: 1.2, animation });
    }],
  ];
  for (const [text, title, action] of buttons) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = text;
    button.title = title;
    button.dataset.action = text;
    button.addEventListener("click", action);
    bar.appendChild(button);
  }
  tree.container.appendChild(bar);
}

// The canvas fills the window below where it starts (a projector's 720 px too),
// at least MIN_HEIGHT and at most what the page asked for.
const MIN_HEIGHT = 340;

function fitHeight(element, most) {
  const top = element.getBoundingClientRect().top;
  const room = window.innerHeight - Math.max(0, top) - 12;
  return Math.round(Math.max(MIN_HEIGHT, Math.min(most, room)));
}

// A line in the canvas's corner saying what the view shows (fixed words and node
// counts: no model text).
function addShownNote(tree) {
  const note = document.createElement("div");
  note.className = "treelight-shown";
  tree.container.appendChild(note);
  tree.shownNote = note;
}

function sayShown(tree, text) {
  if (tree.shownNote) tree.shownNote.textContent = text;
  tree.container.dataset.shown = text;
}

function showView(tree, animation) {
  if (tree.mode === "all") return fitAll(tree, animation);
  return readableView(tree, animation);
}

// Every drawn node inside the canvas, centred, with room for the labels.
function fitAll(tree, animation) {
  const network = tree.network;
  const ids = tree.nodes.getIds();
  network.fit({ animation: false });
  const box = bounds(network, ids);
  const canvas = network.canvas.frame.canvas;
  const room = labelRoom(tree);
  const scale = Math.min(
    MOST_ZOOM,
    canvas.clientWidth / (box.right - box.left + room.x),
    canvas.clientHeight / (box.bottom - box.top + room.y),
  );
  const position = { x: (box.left + box.right) / 2, y: (box.top + box.bottom) / 2 + 20 };
  network.moveTo(animation ? { position, scale, animation } : { position, scale });
  sayShown(tree, `All ${ids.length} drawn nodes` + (
    scale < readableScale(tree) ? " (some labels too small to read: Readable, or zoom in)" : ""));
}

// The default view: the whole tree if its labels can be read; else the best path
// and the selected node's neighbourhood at a readable size; else as much of them
// as fits, the deepest part first (where the search is).
const READABLE_PX = 12;
const MOST_ZOOM = 1.3;
const LABEL_ROOM_X = 160; // half a label's width to each side of the outer nodes
const LABEL_ROOM_Y = 140; // a label below the lowest nodes, the largest node above the highest

// Room for labels, in the tree's own units: larger type (a projector) needs more.
function labelRoom(tree) {
  const factor = (tree.fontSize || 12) / 12;
  return { x: LABEL_ROOM_X * factor, y: LABEL_ROOM_Y * factor };
}

function readableScale(tree) {
  return (tree.readablePx || READABLE_PX) / tree.fontSize;
}

function readableView(tree, animation) {
  const network = tree.network;
  const readable = readableScale(tree);
  const all = tree.nodes.getIds();
  if (fits(tree, all, readable)) {
    fitAll(tree, animation);
    sayShown(tree, `All ${all.length} drawn nodes`);
    return;
  }
  const present = (ids) => ids.filter((id) => tree.nodes.get(id));
  const near = present(tree.near);
  const best = present(tree.best);
  // With a selection, its neighbourhood comes first; the best path if it fits too.
  const tries = (near.length ? [near.concat(best), near] : [best]).filter((ids) => ids.length);
  if (!tries.length) tries.push(present(tree.nodes.getIds()).slice(0, 1)); // the root
  const what = near.length ? ["the selected node's neighbourhood and the best path",
    "the selected node's neighbourhood"] : ["the best path"];
  for (const [i, ids] of tries.entries()) {
    if (fits(tree, ids, readable)) {
      centreOn(tree, ids, readable, animation);
      return sayShown(tree, `Readable: ${what[i] || "the root"} (Fit: all ${all.length})`);
    }
  }
  // Too long for the screen: drop the shallowest nodes until the rest fits.
  const ids = tries[tries.length - 1].slice().sort(
    (a, b) => (tree.nodes.get(b).level || 0) - (tree.nodes.get(a).level || 0));
  while (ids.length > 1 && !fits(tree, ids, readable)) ids.pop();
  centreOn(tree, ids, readable, animation);
  sayShown(tree, `Readable: the deepest ${ids.length} nodes of ${what[what.length - 1]} ` +
    `(Fit: all ${all.length})`);
}

function bounds(network, ids) {
  const positions = network.getPositions(ids);
  const xs = ids.map((id) => positions[id].x);
  const ys = ids.map((id) => positions[id].y);
  return { left: Math.min(...xs), right: Math.max(...xs), top: Math.min(...ys), bottom: Math.max(...ys) };
}

function fits(tree, ids, scale) {
  const network = tree.network;
  const box = bounds(network, ids);
  const room = labelRoom(tree);
  const canvas = network.canvas.frame.canvas;
  const width = canvas.clientWidth / scale;
  const height = canvas.clientHeight / scale;
  // Room for a node's label below it and half a label's width to each side.
  return box.right - box.left + room.x <= width && box.bottom - box.top + room.y <= height;
}

function centreOn(tree, ids, readable, animation) {
  const box = bounds(tree.network, ids);
  const position = { x: (box.left + box.right) / 2, y: (box.top + box.bottom) / 2 + 25 };
  let scale = readable;
  if (ids.length > 1 || tree.nodes.length === 1) {
    tree.network.fit({ nodes: ids, animation: false });
    scale = Math.min(MOST_ZOOM, Math.max(readable, tree.network.getScale()));
  }
  tree.network.moveTo(animation ? { position, scale, animation } : { position, scale });
}
