package deploytest

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func manifests(t *testing.T) *Manifests {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(root, "conf", "k8s", "*.yaml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	m, err := LoadManifests(paths...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func workload(t *testing.T, m *Manifests, name string) *Workload {
	t.Helper()
	for _, w := range m.Workloads {
		if w.Name == name {
			return w
		}
	}
	t.Fatalf("no workload %s", name)
	return nil
}

func TestManifests(t *testing.T) {
	img := image(t)
	m := manifests(t)
	if len(m.Workloads) != 3 || m.Secrets["sshenrich-keys"] == nil || m.Secrets["sshenrich-aggregator-tls"] == nil {
		t.Fatalf("workloads %d, secrets %v", len(m.Workloads), m.Secrets)
	}
	kinds := map[string]string{"ssh-bastion": "Deployment", "sshenrich-node": "DaemonSet", "sshenrich-aggregator": "StatefulSet"}
	for _, w := range m.Workloads {
		if kinds[w.Name] != w.Kind {
			t.Errorf("%s %s: unexpected", w.Kind, w.Name)
		}
		noErrors(t, w.Kind+" "+w.Name, CheckWorkload(w, m, img, CheckOptions{TempDir: t.TempDir()}))
	}
	noErrors(t, "Services", CheckServices(m))
}

// The DaemonSet's other source, the journal, is one item away and
// checked as such.
func TestDaemonSetJournald(t *testing.T) {
	img := image(t)
	m := manifests(t)
	w := workload(t, m, "sshenrich-node")
	switched := false
	for _, v := range w.Pod.Volumes {
		if v.ConfigMap == nil {
			continue
		}
		for i, it := range v.ConfigMap.Items {
			if it.Key == "input-files.conf" {
				v.ConfigMap.Items[i].Key = "input-journald.conf"
				switched = true
			}
		}
	}
	if !switched {
		t.Fatal("the DaemonSet does not mount input-files.conf as an item")
	}
	noErrors(t, "DaemonSet with the journal", CheckWorkload(w, m, img, CheckOptions{TempDir: t.TempDir()}))
	if !strings.Contains(m.ConfigMaps["sshenrich-node"].Data["input-journald.conf"], "Name              systemd") {
		t.Error("input-journald.conf has no systemd input")
	}
}

// TestDaemonSetFleet: the DaemonSet in a fleet (its output.conf item
// output-aggregator.conf, and ca.crt in its keys volume) is checked as
// such, sends to the aggregator's Service port over TLS, and raises no
// alerts; the aggregator's forward input listens on that port.
func TestDaemonSetFleet(t *testing.T) {
	img := image(t)
	m := manifests(t)
	w := workload(t, m, "sshenrich-node")
	switched, ca := false, false
	for _, v := range w.Pod.Volumes {
		switch {
		case v.ConfigMap != nil:
			for i, it := range v.ConfigMap.Items {
				if it.Key == "output-stdout.conf" {
					v.ConfigMap.Items[i].Key = "output-aggregator.conf"
					switched = true
				}
			}
		case v.Secret != nil && v.Secret.SecretName == "sshenrich-keys":
			v.Secret.Items = append(v.Secret.Items, corev1.KeyToPath{Key: "ca.crt", Path: "ca.crt"})
			ca = true
		}
	}
	if !switched || !ca {
		t.Fatalf("the DaemonSet does not mount output-stdout.conf (%v) or sshenrich-keys (%v) as items", switched, ca)
	}
	noErrors(t, "DaemonSet in a fleet", CheckWorkload(w, m, img, CheckOptions{TempDir: t.TempDir()}))
	noErrors(t, "Services", CheckServices(m))

	node := m.ConfigMaps["sshenrich-node"].Data
	out := confValues(node["output-aggregator.conf"])
	svc := m.Services["sshenrich-aggregator"]
	if svc == nil || len(svc.Spec.Ports) != 1 {
		t.Fatalf("no aggregator Service with one port: %v", svc)
	}
	if out["host"] != svc.Name || out["port"] != fmt.Sprint(svc.Spec.Ports[0].Port) || out["tls"] != "on" || out["tls.verify"] != "on" {
		t.Errorf("the node sends to %s:%s (tls %s, verify %s), want the Service %s:%d over verified TLS",
			out["host"], out["port"], out["tls"], out["tls.verify"], svc.Name, svc.Spec.Ports[0].Port)
	}
	if in := confValues(m.ConfigMaps["sshenrich-aggregator"].Data["fluent-bit.conf"]); in["port"] != out["port"] {
		t.Errorf("the aggregator's forward input listens on %s, the nodes send to %s", in["port"], out["port"])
	}
	if !strings.Contains(node["output-aggregator.conf"], "@SET SSHENRICH_ALERTS=off") || !strings.Contains(node["output-stdout.conf"], "@SET SSHENRICH_ALERTS=on") ||
		!strings.Contains(node["fluent-bit.conf"], "correlation_alerts ${SSHENRICH_ALERTS}") {
		t.Error("a node in a fleet must raise no alerts of its own, and a node alone must")
	}
}

// TestAggregatorChecks: what the StatefulSet, Service and TLS checks
// reject, each on the shipped aggregator with one thing changed.
func TestAggregatorChecks(t *testing.T) {
	img := image(t)
	cases := []struct {
		name, want string
		change     func(m *Manifests, w *Workload)
	}{
		{"two replicas", "replicas: one", func(m *Manifests, w *Workload) { two := int32(2); w.Replicas = &two }},
		{"no Service", `serviceName "gone"`, func(m *Manifests, w *Workload) { w.ServiceName = "gone" }},
		{"state off the claim", "keeps its buffer on its claim", func(m *Manifests, w *Workload) {
			w.Pod.Volumes = append(w.Pod.Volumes, corev1.Volume{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
			w.Pod.Containers[0].VolumeMounts[2].Name = "scratch"
		}},
		{"no certificate", "tls.crt_file /etc/sshenrich/tls/tls.crt is not in the container", func(m *Manifests, w *Workload) {
			for _, v := range w.Pod.Volumes {
				if v.Secret != nil {
					v.Secret.Items = v.Secret.Items[1:]
				}
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := manifests(t)
			w := workload(t, m, "sshenrich-aggregator")
			tc.change(m, w)
			errs := CheckWorkload(w, m, img, CheckOptions{TempDir: t.TempDir()})
			if !strings.Contains(fmt.Sprint(errs), tc.want) {
				t.Errorf("errors %v; want one containing %q", errs, tc.want)
			}
		})
	}
	m := manifests(t)
	m.Services["sshenrich-aggregator"].Spec.Ports[0].TargetPort.StrVal = "fwd"
	if errs := CheckServices(m); !strings.Contains(fmt.Sprint(errs), "target fwd is no container port") {
		t.Errorf("a Service port to no container port: %v", errs)
	}
	m.Services["sshenrich-aggregator"].Spec.Selector = map[string]string{"app": "none"}
	if errs := CheckServices(m); !strings.Contains(fmt.Sprint(errs), "selects the pods of 0 workloads") {
		t.Errorf("a Service that selects nothing: %v", errs)
	}
}

// confValues reads the first value of each key of a classic Fluent Bit
// configuration text (keys in lower case).
func confValues(conf string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(conf, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || strings.HasPrefix(f[0], "#") || strings.HasPrefix(f[0], "@") || strings.HasPrefix(f[0], "[") {
			continue
		}
		if k := strings.ToLower(f[0]); out[k] == "" {
			out[k] = f[1]
		}
	}
	return out
}

func TestManifestDecodingRejects(t *testing.T) {
	cases := []struct{ name, doc, want string }{
		{"unknown field", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndatas:\n  a: b\n", `unknown field "datas"`},
		{"unknown nested field", "apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: x\nspec:\n  template:\n    spec:\n      containers:\n        - name: a\n          imagee: b\n", `unknown field "spec.template.spec.containers[0].imagee"`},
		{"field in the wrong case", "apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: x\nspec:\n  template:\n    spec:\n      containers:\n        - name: a\n          Image: b\n", `unknown field "spec.template.spec.containers[0].Image"`},
		{"duplicate field", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\n  name: y\n", "already set"},
		{"wrong type", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\nspec:\n  replicas: one\n", "cannot unmarshal"},
		{"unknown kind", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n", `unknown kind "Pod"`},
		{"wrong apiVersion", "apiVersion: extensions/v1beta1\nkind: DaemonSet\nmetadata:\n  name: x\n", "unknown kind"},
		{"no kind", "metadata:\n  name: x\n", "unknown kind"},
		{"defined twice", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n", "defined twice"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := NewManifests().Add("test.yaml", []byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v; want one containing %q", err, tc.want)
			}
		})
	}
	if err := NewManifests().Add("test.yaml", []byte("# only a comment\n---\n")); err != nil {
		t.Errorf("a document of comments: %v", err)
	}
}

func container(w *Workload, name string) *corev1.Container {
	for i := range w.Pod.InitContainers {
		if w.Pod.InitContainers[i].Name == name {
			return &w.Pod.InitContainers[i]
		}
	}
	for i := range w.Pod.Containers {
		if w.Pod.Containers[i].Name == name {
			return &w.Pod.Containers[i]
		}
	}
	return nil
}

func volume(w *Workload, name string) *corev1.Volume {
	for i := range w.Pod.Volumes {
		if w.Pod.Volumes[i].Name == name {
			return &w.Pod.Volumes[i]
		}
	}
	return nil
}

func mount(c *corev1.Container, name string) *corev1.VolumeMount {
	for i := range c.VolumeMounts {
		if c.VolumeMounts[i].Name == name {
			return &c.VolumeMounts[i]
		}
	}
	return nil
}

// Each mistake below, made to a freshly loaded copy of the manifests, is
// caught.
func TestWorkloadMistakes(t *testing.T) {
	img := image(t)
	const ds, sc = "sshenrich-node", "ssh-bastion"
	cases := []struct {
		name, workload string
		change         func(t *testing.T, m *Manifests, w *Workload)
		want           string
	}{
		{"mount of no volume", ds, func(t *testing.T, m *Manifests, w *Workload) {
			w.Pod.Volumes = w.Pod.Volumes[:len(w.Pod.Volumes)-1]
		}, "mounts keys, which is not a volume of the pod"},
		{"volume mounted by nobody", sc, func(t *testing.T, m *Manifests, w *Workload) {
			w.Pod.Volumes = append(w.Pod.Volumes, corev1.Volume{Name: "spare", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
		}, "volume spare is mounted by no container"},
		{"image latest", sc, func(t *testing.T, m *Manifests, w *Workload) {
			container(w, "sshd").Image = "registry.example.com/ssh-bastion:latest"
		}, "is not pinned"},
		{"image untagged", ds, func(t *testing.T, m *Manifests, w *Workload) {
			container(w, "fluent-bit").Image = "registry.example.com/sshenrich-fluent-bit"
		}, "is not pinned"},
		{"image of another Fluent Bit", ds, func(t *testing.T, m *Manifests, w *Workload) {
			container(w, "fluent-bit").Image = "registry.example.com/sshenrich-fluent-bit:5.0.0"
		}, "tagged with its Fluent Bit version, 5.1.1"},
		{"secret key missing", ds, func(t *testing.T, m *Manifests, w *Workload) {
			container(w, "fluent-bit").Env[0].ValueFrom.SecretKeyRef.Key = "sharedkey"
		}, "Secret sshenrich-keys has no key sharedkey"},
		{"secret missing", sc, func(t *testing.T, m *Manifests, w *Workload) {
			delete(m.Secrets, "sshenrich-keys")
		}, "Secret sshenrich-keys is not in the manifests"},
		{"env variable not set", ds, func(t *testing.T, m *Manifests, w *Workload) {
			container(w, "fluent-bit").Env = nil
		}, "${SSHENRICH_SHARED_KEY} is not set"},
		{"secret file unread", ds, func(t *testing.T, m *Manifests, w *Workload) {
			volume(w, "keys").Secret.Items = nil
		}, "/etc/sshenrich/secret/shared_key is mounted but neither Fluent Bit nor sshenrich reads it"},
		{"ConfigMap file unread", ds, func(t *testing.T, m *Manifests, w *Workload) {
			v := volume(w, "config").ConfigMap
			v.Items = append(v.Items, corev1.KeyToPath{Key: "input-journald.conf", Path: "input-journald.conf"})
		}, "/fluent-bit/etc/sshenrich/input-journald.conf is mounted but neither"},
		{"ConfigMap key missing", ds, func(t *testing.T, m *Manifests, w *Workload) {
			delete(m.ConfigMaps["sshenrich-node"].Data, "input-files.conf")
		}, "ConfigMap sshenrich-node has no key input-files.conf"},
		{"configuration not mounted", sc, func(t *testing.T, m *Manifests, w *Workload) {
			container(w, "sshenrich").Args = []string{"-c", "/fluent-bit/etc/sshenrich/other.conf"}
		}, "other.conf: no such file"},
		{"another binary", sc, func(t *testing.T, m *Manifests, w *Workload) {
			container(w, "sshenrich").Command = []string{"/bin/sh"}
		}, "the image's binary is /fluent-bit/bin/fluent-bit"},
		{"health without Health_Check", ds, func(t *testing.T, m *Manifests, w *Workload) {
			cm := m.ConfigMaps["sshenrich-node"]
			cm.Data["fluent-bit.conf"] = replace(t, cm.Data["fluent-bit.conf"], "Health_Check              On", "Health_Check              Off")
		}, "/api/v1/health needs Health_Check on"},
		{"probe on another port", ds, func(t *testing.T, m *Manifests, w *Workload) {
			container(w, "fluent-bit").LivenessProbe.HTTPGet.Port = intstr.FromInt32(2021)
		}, "port 2021, but HTTP_Port is 2020"},
		{"probe on an unknown port name", sc, func(t *testing.T, m *Manifests, w *Workload) {
			container(w, "sshenrich").LivenessProbe.HTTPGet.Port = intstr.FromString("metrics")
		}, "no container port named metrics"},
		{"probe on an unknown path", sc, func(t *testing.T, m *Manifests, w *Workload) {
			container(w, "sshenrich").LivenessProbe.HTTPGet.Path = "/healthz"
		}, "Fluent Bit serves no /healthz"},
		{"HTTP server on loopback", sc, func(t *testing.T, m *Manifests, w *Workload) {
			cm := m.ConfigMaps["ssh-bastion-sshenrich"]
			cm.Data["fluent-bit.conf"] = replace(t, cm.Data["fluent-bit.conf"], "HTTP_Listen               0.0.0.0", "HTTP_Listen               127.0.0.1")
		}, "cannot be reached by the kubelet"},
		{"no liveness probe", sc, func(t *testing.T, m *Manifests, w *Workload) {
			container(w, "sshenrich").LivenessProbe = nil
		}, "no liveness probe"},
		{"buffer dies with the pod", ds, func(t *testing.T, m *Manifests, w *Workload) {
			volume(w, "buffer").VolumeSource = corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}
		}, "a DaemonSet keeps its buffer on the node"},
		{"buffer read-only", sc, func(t *testing.T, m *Manifests, w *Workload) {
			mount(container(w, "sshenrich"), "buffer").ReadOnly = true
		}, "storage.path /var/lib/fluent-bit/storage is on the read-only mount buffer"},
		{"buffer not mounted", sc, func(t *testing.T, m *Manifests, w *Workload) {
			mount(container(w, "sshenrich"), "buffer").MountPath = "/var/lib/other"
		}, "storage.path /var/lib/fluent-bit/storage is on no volume"},
		{"state file on no volume", ds, func(t *testing.T, m *Manifests, w *Workload) {
			cm := m.ConfigMaps["sshenrich-node"]
			cm.Data["fluent-bit.conf"] = replace(t, cm.Data["fluent-bit.conf"], "/var/lib/fluent-bit/sshenrich.state", "/tmp/sshenrich.state")
		}, "sshenrich correlation_state_file /tmp/sshenrich.state is on no volume"},
		{"state file dies with the pod", ds, func(t *testing.T, m *Manifests, w *Workload) {
			volume(w, "buffer").VolumeSource = corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}
		}, "sshenrich correlation_state_file /var/lib/fluent-bit/sshenrich.state is on buffer, which dies with the pod"},
		{"socket on the node", ds, func(t *testing.T, m *Manifests, w *Workload) {
			volume(w, "socket").VolumeSource = corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/run/sshenrich"}}
		}, "forward Unix_Path /run/fluent-bit/enriched.sock belongs on an emptyDir"},
		{"host logs writable", ds, func(t *testing.T, m *Manifests, w *Workload) {
			mount(container(w, "fluent-bit"), "varlog").ReadOnly = false
		}, "hostPath varlog is not written to; mount it readOnly"},
		{"logs not mounted", ds, func(t *testing.T, m *Manifests, w *Workload) {
			c := container(w, "fluent-bit")
			mount(c, "varlog").MountPath = "/host/var/log"
		}, "tail Path /var/log/secure is on no volume"},
		{"journal without machine-id", ds, func(t *testing.T, m *Manifests, w *Workload) {
			volume(w, "config").ConfigMap.Items[1].Key = "input-journald.conf"
			mount(container(w, "fluent-bit"), "machine-id").MountPath = "/etc/machine-id-host"
		}, "mount all three"},
		{"sidecar log written by nobody", sc, func(t *testing.T, m *Manifests, w *Workload) {
			container(w, "sshd").VolumeMounts = nil
		}, "is on the emptyDir sshd-logs, which no other container writes"},
		{"no resources", ds, func(t *testing.T, m *Manifests, w *Workload) {
			container(w, "fluent-bit").Resources = corev1.ResourceRequirements{}
		}, "no cpu request"},
		{"request above limit", sc, func(t *testing.T, m *Manifests, w *Workload) {
			c := container(w, "sshd")
			c.Resources.Requests[corev1.ResourceMemory] = c.Resources.Limits[corev1.ResourceMemory].DeepCopy()
			q := c.Resources.Requests[corev1.ResourceMemory]
			q.Add(q)
			c.Resources.Requests[corev1.ResourceMemory] = q
		}, "memory request 256Mi exceeds its limit 128Mi"},
		{"writable root", ds, func(t *testing.T, m *Manifests, w *Workload) {
			f := false
			container(w, "fluent-bit").SecurityContext.ReadOnlyRootFilesystem = &f
		}, "readOnlyRootFilesystem"},
		{"capabilities kept", sc, func(t *testing.T, m *Manifests, w *Workload) {
			container(w, "sshenrich").SecurityContext.Capabilities = nil
		}, "drop ALL capabilities"},
		{"capability added", ds, func(t *testing.T, m *Manifests, w *Workload) {
			container(w, "fluent-bit").SecurityContext.Capabilities.Add = []corev1.Capability{"DAC_READ_SEARCH"}
		}, "adds capabilities"},
		{"service account token", ds, func(t *testing.T, m *Manifests, w *Workload) {
			w.Pod.AutomountServiceAccountToken = nil
		}, "automountServiceAccountToken"},
		{"no seccomp profile", sc, func(t *testing.T, m *Manifests, w *Workload) {
			w.Pod.SecurityContext = nil
		}, "seccompProfile"},
		{"selector", ds, func(t *testing.T, m *Manifests, w *Workload) {
			w.Labels = map[string]string{"app": "other"}
		}, "does not match the pod template's labels"},
		{"sshenrich refuses its configuration", sc, func(t *testing.T, m *Manifests, w *Workload) {
			m.Secrets["sshenrich-keys"].StringData["mask_key"] = "short"
		}, "mask_key: at least 16 bytes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := manifests(t)
			w := workload(t, m, tc.workload)
			tc.change(t, m, w)
			wantError(t, CheckWorkload(w, m, img, CheckOptions{TempDir: t.TempDir()}), tc.want)
		})
	}
}

func TestCommandLine(t *testing.T) {
	cases := []struct {
		command, args        []string
		conf, workdir, wantE string
	}{
		{nil, nil, ImageConfig, "/", ""},
		{[]string{ImageBinary}, []string{"-c", "/a.conf"}, "/a.conf", "/", ""},
		{[]string{ImageBinary}, []string{"--workdir=/w", "--config=/b.conf"}, "/b.conf", "/w", ""},
		{nil, []string{"-w", "/w", "--config", "c.conf"}, "c.conf", "/w", ""},
		{[]string{ImageBinary, "-c", "/d.conf"}, nil, "/d.conf", "/", ""},
		{[]string{"/bin/sh", "-c", "fluent-bit"}, nil, "", "", "the image's binary"},
		{[]string{ImageBinary}, []string{"-v"}, "", "", "name no configuration"},
	}
	for _, tc := range cases {
		conf, workdir, err := commandLine(&corev1.Container{Command: tc.command, Args: tc.args})
		if tc.wantE != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantE) {
				t.Errorf("%q %q: error %v, want %q", tc.command, tc.args, err, tc.wantE)
			}
			continue
		}
		if err != nil || conf != tc.conf || workdir != tc.workdir {
			t.Errorf("%q %q = %q, %q, %v; want %q, %q", tc.command, tc.args, conf, workdir, err, tc.conf, tc.workdir)
		}
	}
}

func TestSplitImage(t *testing.T) {
	cases := []struct{ ref, repo, tag, digest string }{
		{"fluent/fluent-bit:5.1.1", "fluent/fluent-bit", "5.1.1", ""},
		{"registry.example.com:5000/a/b", "registry.example.com:5000/a/b", "", ""},
		{"registry.example.com:5000/a/b:1.0", "registry.example.com:5000/a/b", "1.0", ""},
		{"a/b@sha256:0123", "a/b", "", "sha256:0123"},
		{"a/b:1@sha256:0123", "a/b", "1", "sha256:0123"},
		{"golang:1.26-bookworm", "golang", "1.26-bookworm", ""},
	}
	for _, tc := range cases {
		repo, tag, digest := SplitImage(tc.ref)
		if repo != tc.repo || tag != tc.tag || digest != tc.digest {
			t.Errorf("SplitImage(%q) = %q, %q, %q", tc.ref, repo, tag, digest)
		}
	}
}
