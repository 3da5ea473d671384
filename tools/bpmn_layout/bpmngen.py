"""Tiny BPMN writer with a grid layout: lanes made of rows, elements placed by (lane, row, col)."""

from __future__ import annotations

from lxml import etree

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"
DC = "http://www.omg.org/spec/DD/20100524/DC"
DI = "http://www.omg.org/spec/DD/20100524/DI"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NSMAP = {"bpmn": BPMN, "bpmndi": BPMNDI, "dc": DC, "di": DI, "xsi": XSI, "spiffworkflow": SPIFF}


def q(ns, tag):
    return f"{{{ns}}}{tag}"


SIZES = {
    "task": (100, 80),
    "event": (36, 36),
    "gateway": (50, 50),
}
TASKS = {"userTask", "serviceTask", "scriptTask", "businessRuleTask", "callActivity", "manualTask", "task",
         "sendTask", "receiveTask"}
EVENTS = {"startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent"}
GATEWAYS = {"exclusiveGateway", "parallelGateway", "eventBasedGateway", "inclusiveGateway"}

LANE_NAMES = {
    "customer_service": "客服部",
    "sales": "销售部",
    "product": "产品部",
    "technical": "技术部",
    "after_sales": "售后部",
    "management": "管理层",
}


class Node:
    def __init__(self, kind, id, name, en, lane, row, col, kw):
        self.kind, self.id, self.name, self.en, self.lane, self.row, self.col, self.kw = (
            kind, id, name, en, lane, row, col, kw)
        self.incoming, self.outgoing = [], []
        self.x = self.y = self.w = self.h = 0

    @property
    def cx(self):
        return self.x + self.w / 2

    @property
    def cy(self):
        return self.y + self.h / 2


class Model:
    def __init__(self, process_id, process_name, participant_name, lanes, collab_id=None,
                 customer=True, row_h=140, col_w=150, pool_x=150, customer_h=90):
        self.process_id, self.process_name, self.participant_name = process_id, process_name, participant_name
        self.lanes = lanes  # list of (lane_id, rows)
        self.collab_id = collab_id or f"Collaboration_{process_id}"
        self.customer = customer
        self.row_h, self.col_w, self.pool_x = row_h, col_w, pool_x
        self.customer_h = customer_h
        self.nodes: dict[str, Node] = {}
        self.flows = []  # (id, src, tgt, name, en, cond, default, via, points)
        self.messages = {}  # message name -> id
        self.msg_flows = []  # (id, src, tgt, name, message)
        self.pool_y = 40 + (customer_h + 40 if customer else 0)
        self.lane_top = {}
        y = self.pool_y
        for lane_id, rows in lanes:
            self.lane_top[lane_id] = y
            y += rows * row_h
        self.pool_h = y - self.pool_y

    def row_cy(self, lane, row):
        return self.lane_top[lane] + self.row_h / 2 + row * self.row_h

    def col_cx(self, col):
        return self.pool_x + 60 + 70 + col * self.col_w

    def add(self, kind, id, name, en, lane, col, row=0, **kw):
        node = Node(kind, id, name, en, lane, row, col, kw)
        if kind in TASKS:
            node.w, node.h = SIZES["task"]
        elif kind in EVENTS:
            node.w, node.h = SIZES["event"]
        else:
            node.w, node.h = SIZES["gateway"]
        if kind == "boundaryEvent":
            host = self.nodes[kw["attached_to"]]
            node.lane = host.lane
            node.x = host.x + host.w - 18 - 18 - 6
            node.y = host.y + host.h - 18
        else:
            node.x = self.col_cx(col) - node.w / 2
            node.y = self.row_cy(lane, row) - node.h / 2
        self.nodes[id] = node
        return node

    def flow(self, src, tgt, cond=None, name=None, en=None, default=False, via=None, id=None):
        fid = id or f"Flow_{src}_to_{tgt}".replace("Task_", "").replace("Gateway_", "").replace("Event_", "")
        self.flows.append(dict(id=fid, src=src, tgt=tgt, cond=cond, name=name, en=en, default=default, via=via))
        self.nodes[src].outgoing.append(fid)
        self.nodes[tgt].incoming.append(fid)
        if default:
            self.nodes[src].kw["default"] = fid
        return fid

    def message(self, name):
        self.messages.setdefault(name, f"Message_{name}")
        return self.messages[name]

    def msg_flow(self, id, src, tgt, name, message=None):
        if message:
            self.message(message)
        self.msg_flows.append(dict(id=id, src=src, tgt=tgt, name=name, message=message))

    # ---- routing -------------------------------------------------------------------------
    def _route(self, f):
        s, t = self.nodes[f["src"]], self.nodes[f["tgt"]]
        via = f["via"]
        if via is None:
            if abs(s.cy - t.cy) < 1:
                pts = [(s.cx, s.cy), (t.cx, t.cy)]
            elif s.kind == "boundaryEvent" or s.kind in GATEWAYS:
                pts = [(s.cx, s.cy), (s.cx, t.cy), (t.cx, t.cy)]
            elif t.kind in GATEWAYS:
                pts = [(s.cx, s.cy), (t.cx, s.cy), (t.cx, t.cy)]
            else:
                mx = t.x - 25
                pts = [(s.cx, s.cy), (mx, s.cy), (mx, t.cy), (t.cx, t.cy)]
        else:
            pts = [(s.cx, s.cy)]
            for p in via:
                prev = pts[-1]
                if isinstance(p, tuple) and p[0] == "y":
                    pts.append((prev[0], p[1]))
                elif isinstance(p, tuple) and p[0] == "x":
                    pts.append((p[1], prev[1]))
                else:
                    pts.append(p)
            last = pts[-1]
            if abs(last[0] - t.cx) > 1 and abs(last[1] - t.cy) > 1:
                # come in vertically for gateways/events below/above, else horizontally
                pts.append((t.cx, last[1]))
            pts.append((t.cx, t.cy))
        clean = [pts[0]]
        for p in pts[1:]:
            if abs(p[0] - clean[-1][0]) > 0.5 or abs(p[1] - clean[-1][1]) > 0.5:
                clean.append(p)
        pts = clean
        return [self._clip_start(pts, s), *pts[1:-1], self._clip_end(pts, t)]

    @staticmethod
    def _dock(node, frm, to):
        (x0, y0), (x1, y1) = frm, to
        if abs(x0 - x1) < 1:  # vertical
            return (x0, node.y + (node.h if y1 > y0 else 0))
        return (node.x + (node.w if x1 > x0 else 0), y0)

    def _clip_start(self, pts, s):
        return self._dock(s, pts[0], pts[1])

    def _clip_end(self, pts, t):
        return self._dock(t, pts[-1], pts[-2])

    # ---- XML -----------------------------------------------------------------------------
    def _props(self, el, props):
        if not props:
            return
        ext = el.find(q(BPMN, "extensionElements"))
        if ext is None:
            ext = etree.SubElement(el, q(BPMN, "extensionElements"))
        ps = etree.SubElement(ext, q(SPIFF, "properties"))
        for k, v in props.items():
            etree.SubElement(ps, q(SPIFF, "property"), name=k, value=str(v))

    def _ext(self, el):
        ext = el.find(q(BPMN, "extensionElements"))
        if ext is None:
            ext = etree.SubElement(el, q(BPMN, "extensionElements"))
        return ext

    def build(self) -> bytes:
        defs = etree.Element(q(BPMN, "definitions"), nsmap=NSMAP,
                             id=f"Definitions_{self.process_id}",
                             targetNamespace="https://redress.example/bpmn",
                             exporter="redress bpmngen", exporterVersion="1")
        collab = etree.SubElement(defs, q(BPMN, "collaboration"), id=self.collab_id)
        etree.SubElement(collab, q(BPMN, "participant"), id=f"Participant_{self.process_id}",
                         name=self.participant_name, processRef=self.process_id)
        if self.customer:
            etree.SubElement(collab, q(BPMN, "participant"), id=f"Participant_Customer_{self.process_id}",
                             name="客户 Customer")
        for mf in self.msg_flows:
            attrs = dict(id=mf["id"], name=mf["name"], sourceRef=self._mf_ref(mf["src"]),
                         targetRef=self._mf_ref(mf["tgt"]))
            if mf["message"]:
                attrs["messageRef"] = self.messages[mf["message"]]
            etree.SubElement(collab, q(BPMN, "messageFlow"), **attrs)

        for name, mid in self.messages.items():
            etree.SubElement(defs, q(BPMN, "message"), id=mid, name=name)

        proc = etree.SubElement(defs, q(BPMN, "process"), id=self.process_id, name=self.process_name,
                                isExecutable="true")
        lane_set = etree.SubElement(proc, q(BPMN, "laneSet"), id=f"LaneSet_{self.process_id}")
        for lane_id, _rows in self.lanes:
            lane = etree.SubElement(lane_set, q(BPMN, "lane"), id=lane_id,
                                    name=f"{LANE_NAMES[lane_id]}")
            for n in self.nodes.values():
                if n.lane == lane_id:
                    etree.SubElement(lane, q(BPMN, "flowNodeRef")).text = n.id
        flows_by_id = {f["id"]: f for f in self.flows}
        for n in self.nodes.values():
            self._node_xml(proc, n)
        for f in self.flows:
            attrs = dict(id=f["id"], sourceRef=f["src"], targetRef=f["tgt"])
            if f["name"]:
                attrs["name"] = f["name"]
            el = etree.SubElement(proc, q(BPMN, "sequenceFlow"), **attrs)
            if f["en"]:
                self._props(el, {"name_en": f["en"]})
            if f["cond"]:
                c = etree.SubElement(el, q(BPMN, "conditionExpression"))
                c.set(q(XSI, "type"), "bpmn:tFormalExpression")
                c.text = f["cond"]
        del flows_by_id
        self._di(defs)
        etree.indent(defs, space="  ")
        return etree.tostring(defs, xml_declaration=True, encoding="UTF-8", pretty_print=True)

    def _mf_ref(self, ref):
        return f"Participant_Customer_{self.process_id}" if ref == "Customer" else ref

    def _node_xml(self, proc, n: Node):
        kw = n.kw
        attrs = dict(id=n.id)
        if n.name:
            attrs["name"] = n.name
        if n.kind == "boundaryEvent":
            attrs["attachedToRef"] = kw["attached_to"]
            attrs["cancelActivity"] = "true" if kw.get("cancel", False) else "false"
        if n.kind == "callActivity":
            attrs["calledElement"] = kw["called"]
        if kw.get("default"):
            attrs["default"] = kw["default"]
        el = etree.SubElement(proc, q(BPMN, n.kind), **attrs)
        if kw.get("doc"):
            etree.SubElement(el, q(BPMN, "documentation")).text = kw["doc"]
        props = {}
        if n.en:
            props["name_en"] = n.en
        if kw.get("form"):
            props["formJsonSchemaFilename"] = kw["form"]
        if kw.get("group"):
            props["candidateGroup"] = kw["group"]
        if props:
            self._props(el, props)
        if kw.get("pre"):
            etree.SubElement(self._ext(el), q(SPIFF, "preScript")).text = kw["pre"]
        if kw.get("post"):
            etree.SubElement(self._ext(el), q(SPIFF, "postScript")).text = kw["post"]
        if n.kind == "serviceTask":
            op = etree.SubElement(self._ext(el), q(SPIFF, "serviceTaskOperator"), id=kw["op"],
                                  resultVariable=kw.get("result", f"{kw['op']}_result"))
            params = etree.SubElement(op, q(SPIFF, "parameters"))
            for pid, expr in kw.get("params", {}).items():
                etree.SubElement(params, q(SPIFF, "parameter"), id=pid, type="any", value=expr)
        if n.kind == "businessRuleTask":
            etree.SubElement(self._ext(el), q(SPIFF, "calledDecisionId")).text = kw["decision"]
        for fid in n.incoming:
            etree.SubElement(el, q(BPMN, "incoming")).text = fid
        for fid in n.outgoing:
            etree.SubElement(el, q(BPMN, "outgoing")).text = fid
        if n.kind == "scriptTask":
            etree.SubElement(el, q(BPMN, "script")).text = kw["script"]
        if "timer" in kw:
            kind, expr = kw["timer"]
            ted = etree.SubElement(el, q(BPMN, "timerEventDefinition"), id=f"TimerEventDefinition_{n.id}")
            t = etree.SubElement(ted, q(BPMN, kind))
            t.set(q(XSI, "type"), "bpmn:tFormalExpression")
            t.text = expr
        if "message" in kw:
            med = etree.SubElement(el, q(BPMN, "messageEventDefinition"), id=f"MessageEventDefinition_{n.id}",
                                   messageRef=self.message(kw["message"]))
            if kw.get("message_var"):
                ext = etree.SubElement(med, q(BPMN, "extensionElements"))
                etree.SubElement(ext, q(SPIFF, "messageVariable")).text = kw["message_var"]
        if kw.get("terminate"):
            etree.SubElement(el, q(BPMN, "terminateEventDefinition"), id=f"TerminateEventDefinition_{n.id}")

    def _di(self, defs):
        diagram = etree.SubElement(defs, q(BPMNDI, "BPMNDiagram"), id=f"BPMNDiagram_{self.process_id}")
        plane = etree.SubElement(diagram, q(BPMNDI, "BPMNPlane"), id=f"BPMNPlane_{self.process_id}",
                                 bpmnElement=self.collab_id)
        max_col = max(n.col for n in self.nodes.values())
        pool_w = (self.col_cx(max_col) + 110) - self.pool_x
        self.pool_w = pool_w

        def shape(el_id, x, y, w, h, **extra):
            s = etree.SubElement(plane, q(BPMNDI, "BPMNShape"), id=f"{el_id}_di", bpmnElement=el_id, **extra)
            etree.SubElement(s, q(DC, "Bounds"), x=str(int(x)), y=str(int(y)), width=str(int(w)),
                             height=str(int(h)))
            return s

        shape(f"Participant_{self.process_id}", self.pool_x, self.pool_y, pool_w, self.pool_h,
              isHorizontal="true")
        for lane_id, rows in self.lanes:
            shape(lane_id, self.pool_x + 30, self.lane_top[lane_id], pool_w - 30, rows * self.row_h,
                  isHorizontal="true")
        if self.customer:
            shape(f"Participant_Customer_{self.process_id}", self.pool_x, 40, pool_w, self.customer_h,
                  isHorizontal="true")
        for n in self.nodes.values():
            extra = {}
            if n.kind == "exclusiveGateway":
                extra["isMarkerVisible"] = "true"
            s = shape(n.id, n.x, n.y, n.w, n.h, **extra)
            if n.kind == "boundaryEvent":
                # left of the event, under its task, so the label stays inside the lane
                lab = etree.SubElement(s, q(BPMNDI, "BPMNLabel"))
                etree.SubElement(lab, q(DC, "Bounds"), x=str(int(n.x - 100)), y=str(int(n.y + 22)),
                                 width="96", height="14")
            elif n.kind in EVENTS or n.kind in GATEWAYS:
                lab = etree.SubElement(s, q(BPMNDI, "BPMNLabel"))
                etree.SubElement(lab, q(DC, "Bounds"), x=str(int(n.cx - 45)), y=str(int(n.y + n.h + 4)),
                                 width="90", height="27")
        for f in self.flows:
            e = etree.SubElement(plane, q(BPMNDI, "BPMNEdge"), id=f"{f['id']}_di", bpmnElement=f["id"])
            for x, y in self._route(f):
                etree.SubElement(e, q(DI, "waypoint"), x=str(int(x)), y=str(int(y)))
        for mf in self.msg_flows:
            e = etree.SubElement(plane, q(BPMNDI, "BPMNEdge"), id=f"{mf['id']}_di", bpmnElement=mf["id"])
            node = self.nodes[mf["tgt"] if mf["src"] == "Customer" else mf["src"]]
            x = node.cx + (-12 if mf["src"] == "Customer" else 12)
            pool_bottom = 40 + self.customer_h
            if node.row == 0 and node.lane == self.lanes[0][0]:
                path = [(x, node.y), (x, pool_bottom)]
            else:
                # come down between the columns, then in from above the element
                gx = node.cx - self.col_w / 2
                above = node.y - 15
                path = [(x, node.y), (x, above), (gx, above), (gx, pool_bottom)]
            pts = list(reversed(path)) if mf["src"] == "Customer" else path
            for px, py in pts:
                etree.SubElement(e, q(DI, "waypoint"), x=str(int(px)), y=str(int(py)))
