/// The page `mien serve` gives at `/`: it opens the camera, sends frames over the WebSocket
/// (one in flight at a time, so a slow network drops frames instead of queueing them) and
/// draws each face's box and emotion over the live video, with a bar chart of the scores of
/// the most confident face. Self-contained: no external script, style sheet or font.
enum LivePage {
    static let html = #"""
    <!doctype html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>Mien — live</title>
    <style>
      body { font-family: system-ui, sans-serif; margin: 12px; background: #fafafa; color: #222; }
      h1 { font-size: 20px; margin: 0 0 10px; }
      main { display: flex; gap: 16px; align-items: flex-start; }
      #stage { position: relative; flex: none; }
      video, canvas#overlay { width: 640px; height: 480px; display: block; }
      canvas#overlay { position: absolute; left: 0; top: 0; }
      #panel { width: 260px; }
      .bar { display: flex; align-items: center; margin: 4px 0; font-size: 14px; }
      .bar span { width: 70px; }
      .bar div { height: 14px; background: #2c7fb8; }
      #status { font-size: 13px; color: #555; margin-top: 12px; }
    </style>
    </head>
    <body>
    <h1>Mien: emotions, live</h1>
    <main>
    <div id="stage"><video id="video" autoplay muted playsinline></video><canvas id="overlay" width="640" height="480"></canvas></div>
    <div id="panel"><div id="label" style="font-size:22px;font-weight:600">—</div><div id="bars"></div>
    <div id="status">starting the camera…</div></div>
    </main>
    <script>
    "use strict";
    const video = document.getElementById("video");
    const overlay = document.getElementById("overlay");
    const ctx = overlay.getContext("2d");
    const grab = document.createElement("canvas");
    grab.width = 640; grab.height = 480;
    const status = document.getElementById("status");
    const colors = ["#d62728", "#2ca02c", "#9467bd", "#1f77b4", "#7f7f7f", "#17829a", "#e6780a"];
    const colorOf = {};
    let socket = null, busy = false, answered = 0, faces = 0, lastMs = 0;

    function draw(reply) {
      ctx.clearRect(0, 0, overlay.width, overlay.height);
      if (reply.error) { status.textContent = reply.error; return; }
      answered += 1;
      faces = reply.faces.length;
      lastMs = reply.milliseconds;
      reply.faces.forEach((face) => {
        const [x, y, w, h] = face.box;
        if (!(face.label in colorOf)) colorOf[face.label] = colors[Object.keys(colorOf).length % colors.length];
        ctx.strokeStyle = ctx.fillStyle = colorOf[face.label];
        ctx.lineWidth = 3;
        ctx.strokeRect(x, y, w, h);
        ctx.font = "16px sans-serif";
        const text = face.label + " " + Math.round(100 * face.top[0].score) + "%";
        const top = y >= 22 ? y - 22 : y;  // inside the box when it touches the top
        ctx.fillRect(x, top, ctx.measureText(text).width + 8, 22);
        ctx.fillStyle = "#fff";
        ctx.fillText(text, x + 4, top + 16);
      });
      const top = reply.faces[0];
      document.getElementById("label").textContent = top ? top.label : "no face";
      const bars = document.getElementById("bars");
      bars.innerHTML = "";
      if (top) {
        top.top.forEach(({ label, score }) => {
          const row = document.createElement("div");
          row.className = "bar";
          row.innerHTML = "<span></span><div></div>";
          row.firstChild.textContent = label;
          row.lastChild.style.width = Math.round(180 * score) + "px";
          bars.appendChild(row);
        });
      }
      status.textContent = "frame " + reply.frame + ": " + faces + " face(s), " + lastMs.toFixed(1) +
        " ms; dropped " + reply.dropped + "; answered " + answered;
      document.body.dataset.answered = answered;
      document.body.dataset.faces = faces;
    }

    function send() {
      if (!socket || socket.readyState !== WebSocket.OPEN || busy || video.readyState < 2) return;
      busy = true;
      grab.getContext("2d").drawImage(video, 0, 0, grab.width, grab.height);
      grab.toBlob((blob) => { if (blob) socket.send(blob); else busy = false; }, "image/jpeg", 0.85);
    }

    function connect() {
      socket = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
      socket.binaryType = "arraybuffer";
      socket.onmessage = (event) => { busy = false; draw(JSON.parse(event.data)); };
      socket.onclose = () => { status.textContent = "disconnected; retrying…"; busy = false; setTimeout(connect, 1000); };
    }

    navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 } }).then((stream) => {
      video.srcObject = stream;
      connect();
      setInterval(send, 15);
    }).catch((error) => { status.textContent = "no camera: " + error; });
    </script>
    </body>
    </html>
    """#
}
