"""Images are not pulled: a container without a command runs nothing, is not ready, and says why."""
import json

from helpers import leftovers, netlab, unique

NGINX = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: nginx, image: "nginx:1.25", ports: [{containerPort: 80}]}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {selector: {app: web}, ports: [{port: 80}]}
"""
SLEEPER = """\
apiVersion: v1
kind: Pod
metadata: {name: sleeper, labels: {app: web}}
spec:
  containers: [{name: c, image: busybox, command: [sleep], args: ["1000"]}]
"""


def test_an_image_without_a_command_warns_and_is_not_ready(tmp_path):
    name = unique("img")
    (tmp_path / "web.yaml").write_text(NGINX)
    (tmp_path / "sleeper.yaml").write_text(SLEEPER)
    try:
        up = netlab("up", "-f", str(tmp_path / "web.yaml"), "--name", name)
        assert up.stderr.count("images are not pulled") == 1
        assert "netlab: warning: images are not pulled: deployment/web (nginx:1.25) runs nothing" in up.stderr
        pods = netlab("get", "pods", "--name", name).stdout.splitlines()
        [row] = [r for r in pods if r.startswith("web-")]
        assert row.split()[1:3] == ["0/1", "NoCommand"]
        pod = row.split()[0]

        desc = netlab("describe", "pod", pod, "--name", name).stdout
        assert "Reason:       NoCommand" in desc and "images are not pulled" in desc
        assert "nginx:1.25 (not pulled: it runs nothing)" in desc
        [item] = [i for i in json.loads(netlab("get", "pods", "-o", "json", "--name", name).stdout)["items"]
                  if i["metadata"]["name"] == pod]
        assert item["status"]["conditions"][0]["status"] == "False"
        assert item["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "NoCommand"
        eps = [e for e in json.loads(netlab("get", "endpoints", "-o", "json", "--name", name).stdout)["items"]
               if e["metadata"]["name"] == "web"]
        assert all(not s.get("addresses") for e in eps for s in e["subsets"])     # no Service traffic

        # apply: one warning naming the command that runs; that pod is ready and gets the traffic
        out = netlab("apply", "-f", str(tmp_path / "sleeper.yaml"), "--name", name)
        assert out.stderr.count("images are not pulled") == 1
        assert 'pod/sleeper (busybox) runs its command ["sleep", "1000"]' in out.stderr
        rows = netlab("get", "pods", "--name", name).stdout
        assert [r.split()[1:3] for r in rows.splitlines() if r.startswith("sleeper")] == [["1/1", "Running"]]
    finally:
        netlab("down", "--name", name, check=False)
    assert leftovers(name) == []
