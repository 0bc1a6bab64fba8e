package deploytest

import (
	"reflect"
	"strings"
	"testing"

	"github.com/sshenrich/sshenrich/plugin/config"
	corev1 "k8s.io/api/core/v1"
)

// helmWorkload builds what the chart renders from values text, with the
// Secret of conf/k8s beside it.
func helmWorkload(t *testing.T, values string) (*Workload, *Manifests, map[string]bool, error) {
	t.Helper()
	v, err := LoadChartValues([]byte(values))
	if err != nil {
		return nil, nil, nil, err
	}
	w, cm, unread, err := ChartWorkload(v)
	if err != nil {
		return nil, nil, nil, err
	}
	m := manifests(t)
	m.Workloads = []*Workload{w}
	m.ConfigMaps = map[string]*corev1ConfigMap{cm.Name: cm}
	return w, m, unread, nil
}

func TestHelmValues(t *testing.T) {
	img := image(t)
	w, m, unread, err := helmWorkload(t, string(read(t, "conf/helm/values.yaml")))
	if err != nil {
		t.Fatal(err)
	}
	noErrors(t, "conf/helm/values.yaml", CheckWorkload(w, m, img, CheckOptions{Unread: unread, TempDir: t.TempDir()}))
}

// The Helm values and the DaemonSet manifest run the same sshenrich.
func TestHelmMatchesDaemonSet(t *testing.T) {
	img := image(t)
	sshenrich := func(w *Workload, m *Manifests) *config.Config {
		t.Helper()
		c := &podCheck{w: w, m: m, img: img, vols: map[string]*corev1Volume{}}
		for i := range w.Pod.Volumes {
			c.vols[w.Pod.Volumes[i].Name] = &w.Pod.Volumes[i]
		}
		ct := &w.Pod.Containers[0]
		files := Files{}
		for p, d := range img.Files {
			files[p] = d
		}
		c.mountedFiles(ct, files)
		conf, workdir, err := commandLine(ct)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := LoadFluentBit(files, conf, workdir)
		if err != nil {
			t.Fatal(err)
		}
		p, errs := CheckPipeline(cfg, Runtime{Env: c.env(ct), Files: files, TempDir: t.TempDir()})
		noErrors(t, w.Name, errs)
		for _, sc := range p.Sshenrich {
			return sc
		}
		t.Fatalf("%s: no sshenrich output", w.Name)
		return nil
	}
	hw, hm, _, err := helmWorkload(t, string(read(t, "conf/helm/values.yaml")))
	if err != nil {
		t.Fatal(err)
	}
	m := manifests(t)
	helm, ds := sshenrich(hw, hm), sshenrich(workload(t, m, "sshenrich-node"), m)
	if !reflect.DeepEqual(helm, ds) {
		t.Errorf("sshenrich's configuration differs:\nHelm      %+v\nDaemonSet %+v", helm, ds)
	}
}

func TestHelmValuesMistakes(t *testing.T) {
	img := image(t)
	values := string(read(t, "conf/helm/values.yaml"))
	cases := []struct{ name, old, new, want string }{
		{"misspelt key", "daemonSetVolumeMounts:", "daemonsetVolumeMounts:", `unknown field "daemonsetVolumeMounts"`},
		{"key the check does not model", "kind: DaemonSet\n", "kind: DaemonSet\nextraContainers: []\n", `unknown field "extraContainers"`},
		{"unknown Kubernetes field", "      medium: Memory", "      medium: Memory\n      size: 1Mi", `unknown field "extraVolumes[0].emptyDir.size"`},
		{"Deployment", "kind: DaemonSet", "kind: Deployment", "these values are for the chart's DaemonSet"},
		{"template", "Flush                     1", "Flush                     {{ .Values.flush }}", "render-free"},
		{"extra file replacing the chart's", "    plugins.conf: |", "    fluent-bit.conf: |", "replaces a file the chart writes"},
		{"parsers written and unread", `customParsers: ""`, "customParsers: |\n    [PARSER]\n        Name x\n        Format json", "custom_parsers.conf is mounted but neither"},
		{"plugins file elsewhere", "Plugins_File              /fluent-bit/etc/conf/plugins.conf", "Plugins_File              /fluent-bit/etc/plugins.conf", "/fluent-bit/etc/conf/plugins.conf is mounted but neither"},
		{"plugin path", "Path /usr/lib/fluent-bit/out_sshenrich.so", "Path /fluent-bit/out_sshenrich.so", "is not in the image"},
		{"image tag", `tag: "5.1.1"`, `tag: "latest"`, "is not pinned"},
		{"buffer in the pod", "  - name: buffer\n    hostPath:\n      path: /var/lib/sshenrich-fluent-bit\n      type: DirectoryOrCreate", "  - name: buffer\n    emptyDir: {}", "keeps its buffer on the node"},
		{"probe port", "metricsPort: 2020", "metricsPort: 2021", "HTTP_Port is 2020"},
		{"loop", "    Match             ssh.*", "    Match             *", "go round forever"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w, m, unread, err := helmWorkload(t, replace(t, values, tc.old, tc.new))
			if err != nil {
				if !strings.Contains(err.Error(), tc.want) {
					t.Errorf("error %v; want one containing %q", err, tc.want)
				}
				return
			}
			wantError(t, CheckWorkload(w, m, img, CheckOptions{Unread: unread, TempDir: t.TempDir()}), tc.want)
		})
	}
}

type (
	corev1ConfigMap = corev1.ConfigMap
	corev1Volume    = corev1.Volume
)
