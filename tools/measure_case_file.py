"""Time the complaint file, the task page and the customer's page for a case with N internal notes and a
customer with 30 complaints (SQLite, in-process; medians of 15). Usage: .venv/bin/python tools/measure_case_file.py [N]"""
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from processes.complaints import case_notes
from processes.complaints.registration import register
from processes.engine.actors import Actor
from processes.engine.definitions import read_files
from processes.engine.schema import upgrade
from processes.engine.users import add_user
from web import create_app

tmp = Path(tempfile.mkdtemp())
url = f"sqlite:///{tmp/'m.db'}"
upgrade(url)
app = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "x", "WTF_CSRF_ENABLED": False})
app.instance_path = str(tmp / "instance")
rt = app.extensions["redress.runtime"]
rt.deploy(read_files(ROOT, "bpmn", "forms"))
with app.extensions["redress.db"].write_session.begin() as s:
    add_user(s, "senior", "customer_service", "senior_agent", "pw-12345678")
payload = {"channel": "phone", "customer": {"name": "张伟", "phone": "13800138001", "email": "zw@example.com"},
           "subject": "电水壶底座漏电", "description": "使用三天后底座漏电。", "remedy_sought": "退货"}
refs = [register(rt, {**payload, "subject": f"问题 {i}", "product": f"P{i}"}, in_form=True) for i in range(30)]
ref = refs[-1]
n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
with app.extensions["redress.db"].write_session.begin() as s:
    for i in range(n):
        case_notes.add_note(s, ref, Actor("senior", "customer_service", "senior_agent"), f"备注 {i}")
client = app.test_client()
client.post("/login", data={"username": "senior", "password": "pw-12345678"})
task = rt.open_tasks(ref)[0]
for name, path in [("file", f"/complaints/{ref}"), ("task", f"/tasks/{task.id}"), ("customer", f"/complaints/{ref}/customer")]:
    client.get(path)
    times = []
    for _ in range(15):
        t = time.perf_counter(); r = client.get(path); times.append(time.perf_counter() - t)
        assert r.status_code == 200, r.status_code
    print(f"{name:9s} median {statistics.median(times)*1000:.1f} ms  (notes {n}, customer complaints {len(refs)})")
