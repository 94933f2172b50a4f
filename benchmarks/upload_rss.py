"""Start `explain dashboard`, post three 200 MB uploads to its server and print the server's RSS.

Usage: python benchmarks/upload_rss.py PORT MODEL_FOLDER (the folder becomes the dashboard's default model).
Uploads: with Content-Length on a live session, chunked on a live session, and to an unknown session;
each must be refused (413/400) with the server's RSS unchanged (`server.maxUploadSize`, set by
`explain dashboard` from REVIEW_EXPLAINER_MAX_UPLOAD_MB).
"""

import http.client
import os
import socket
import subprocess
import sys
import threading
import time

import psutil

PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 8765
SIZE = 200 * 2**20
ROOT = str(__import__("pathlib").Path(__file__).resolve().parent.parent)


def serving():
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", PORT)) == 0


env = os.environ | {"HF_HUB_OFFLINE": "1", "REVIEW_EXPLAINER_DEFAULT_MODEL": sys.argv[2], "PYTHONPATH": ROOT}
parent = subprocess.Popen(
    [sys.executable, "-m", "explain.cli", "dashboard", "--port", str(PORT), "--address", "127.0.0.1"],
    cwd=ROOT,
    env=env,
    stdout=subprocess.DEVNULL,
    stderr=subprocess.DEVNULL,
)
try:
    t0 = time.time()
    while not serving():
        time.sleep(0.5)
        assert time.time() - t0 < 180
    server = [c for c in psutil.Process(parent.pid).children(recursive=True) if "streamlit" in " ".join(c.cmdline())][0]
    peak = [server.memory_info().rss]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], server.memory_info().rss)
            time.sleep(0.05)

    threading.Thread(target=sample, daemon=True).start()
    # cookie + a live session over the websocket
    c = http.client.HTTPConnection("127.0.0.1", PORT)
    c.request("GET", "/_stcore/health")
    r = c.getresponse()
    r.read()
    cookie = [v for k, v in r.getheaders() if k.lower() == "set-cookie"][0].split(";")[0]
    token = cookie.split("=", 1)[1]
    import websocket
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    ws = websocket.create_connection(
        f"ws://127.0.0.1:{PORT}/_stcore/stream",
        subprotocols=["streamlit", token],
        header=[f"Cookie: {cookie}"],
        timeout=60,
    )
    back = BackMsg()
    back.rerun_script.query_string = ""
    back.rerun_script.page_script_hash = ""
    ws.send_binary(back.SerializeToString())
    session_id = None
    while session_id is None:
        msg = ForwardMsg()
        msg.ParseFromString(ws.recv())
        if msg.WhichOneof("type") == "new_session":
            session_id = msg.new_session.initialize.session_id
    t1 = time.time()
    while time.time() - t1 < 120:  # let the page's script run to its end (it loads the model)
        msg = ForwardMsg()
        msg.ParseFromString(ws.recv())
        if msg.WhichOneof("type") == "script_finished":
            break
    time.sleep(2)
    peak[0] = server.memory_info().rss
    print("session", session_id, "server RSS after the first page run", round(server.memory_info().rss / 2**20), "MB")
    chunk = b"a" * 2**20

    def put(length_header: bool, session: str):
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=120)
        headers = {"X-Xsrftoken": token, "Cookie": cookie, "Content-Type": "multipart/form-data; boundary=XyZ"}
        body_head = (
            b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n'
            b"Content-Type: text/csv\r\n\r\n"
        )
        total = len(body_head) + SIZE + len(b"\r\n--XyZ--\r\n")
        if length_header:
            headers["Content-Length"] = str(total)
        else:
            headers["Transfer-Encoding"] = "chunked"
        conn.putrequest("PUT", f"/_stcore/upload_file/{session}/file-1")
        for k, v in headers.items():
            conn.putheader(k, v)
        conn.endheaders()
        sent = 0

        def send(data):
            conn.send(b"%x\r\n%s\r\n" % (len(data), data) if not length_header else data)

        try:
            send(body_head)
            for _ in range(SIZE // len(chunk)):
                send(chunk)
                sent += len(chunk)
            send(b"\r\n--XyZ--\r\n")
            if not length_header:
                conn.send(b"0\r\n\r\n")
        except OSError as exc:
            print("  server closed the connection after", sent // 2**20, "MB:", exc)
        try:
            resp = conn.getresponse()
            status = resp.status
            resp.read()
        except Exception as exc:
            status = repr(exc)
        return status, sent

    for label, length, session in [
        ("Content-Length, live session", True, session_id),
        ("chunked, live session", False, session_id),
        ("Content-Length, unknown session", True, "nosuchsession"),
    ]:
        t = time.time()
        status, sent = put(length, session)
        print(
            f"{label}: HTTP {status}, {sent // 2**20} MB sent in {time.time() - t:.1f} s; server RSS now "
            f"{server.memory_info().rss / 2**20:.0f} MB, peak {peak[0] / 2**20:.0f} MB"
        )
    stop.set()
    ws.close()
finally:
    parent.terminate()
    parent.wait(30)
