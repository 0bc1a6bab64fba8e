package deploytest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// Manifests are the objects of a set of manifest files, decoded strictly
// into the Kubernetes API types.
type Manifests struct {
	ConfigMaps map[string]*corev1.ConfigMap
	Secrets    map[string]*corev1.Secret
	Services   map[string]*corev1.Service
	Workloads  []*Workload
}

// Workload is a Deployment, DaemonSet or StatefulSet: its pod template
// and selector, and a StatefulSet's replicas, Service and claims.
type Workload struct {
	Kind, Name, Where string
	Selector          *metav1.LabelSelector
	Labels            map[string]string
	Pod               *corev1.PodSpec
	Replicas          *int32
	ServiceName       string
	Claims            []corev1.PersistentVolumeClaim
}

// NewManifests returns an empty set.
func NewManifests() *Manifests {
	return &Manifests{ConfigMaps: map[string]*corev1.ConfigMap{}, Secrets: map[string]*corev1.Secret{}, Services: map[string]*corev1.Service{}}
}

// LoadManifests reads manifest files.
func LoadManifests(files ...string) (*Manifests, error) {
	m := NewManifests()
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		if err := m.Add(f, data); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Add decodes every document of one file. A field the API type does not
// have, a duplicate field, or a kind other than ConfigMap, Secret,
// Service, Deployment, DaemonSet and StatefulSet is an error.
func (m *Manifests) Add(where string, data []byte) error {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for n := 1; ; n++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: document %d: %w", where, n, err)
		}
		if err := m.addDoc(fmt.Sprintf("%s (document %d)", where, n), doc); err != nil {
			return err
		}
	}
}

func (m *Manifests) addDoc(where string, doc []byte) error {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	if tm.Kind == "" && tm.APIVersion == "" && len(bytes.TrimSpace(stripComments(doc))) == 0 {
		return nil
	}
	strict := func(obj any) error {
		if err := DecodeStrict(doc, obj); err != nil {
			return fmt.Errorf("%s: %s %s: %w", where, tm.APIVersion, tm.Kind, err)
		}
		return nil
	}
	switch tm.APIVersion + " " + tm.Kind {
	case "v1 ConfigMap":
		return addNamed(m.ConfigMaps, "ConfigMap", where, strict)
	case "v1 Secret":
		return addNamed(m.Secrets, "Secret", where, strict)
	case "apps/v1 Deployment":
		var o appsv1.Deployment
		if err := strict(&o); err != nil {
			return err
		}
		m.Workloads = append(m.Workloads, &Workload{Kind: "Deployment", Name: o.Name, Where: where, Selector: o.Spec.Selector, Labels: o.Spec.Template.Labels, Pod: &o.Spec.Template.Spec})
	case "apps/v1 DaemonSet":
		var o appsv1.DaemonSet
		if err := strict(&o); err != nil {
			return err
		}
		m.Workloads = append(m.Workloads, &Workload{Kind: "DaemonSet", Name: o.Name, Where: where, Selector: o.Spec.Selector, Labels: o.Spec.Template.Labels, Pod: &o.Spec.Template.Spec})
	case "apps/v1 StatefulSet":
		var o appsv1.StatefulSet
		if err := strict(&o); err != nil {
			return err
		}
		m.Workloads = append(m.Workloads, &Workload{Kind: "StatefulSet", Name: o.Name, Where: where, Selector: o.Spec.Selector, Labels: o.Spec.Template.Labels,
			Pod: &o.Spec.Template.Spec, Replicas: o.Spec.Replicas, ServiceName: o.Spec.ServiceName, Claims: o.Spec.VolumeClaimTemplates})
	case "v1 Service":
		return addNamed(m.Services, "Service", where, strict)
	default:
		return fmt.Errorf("%s: unknown kind %q (apiVersion %q): only ConfigMap, Secret, Service, Deployment, DaemonSet and StatefulSet are checked", where, tm.Kind, tm.APIVersion)
	}
	return nil
}

// CheckServices checks that each Service selects the pods of exactly one
// workload of the manifests, and that each of its ports leads to a port
// one of their containers declares.
func CheckServices(m *Manifests) []error {
	var errs []error
	for name, svc := range m.Services {
		fail := func(format string, a ...any) {
			errs = append(errs, fmt.Errorf("Service %s: "+format, append([]any{name}, a...)...))
		}
		if len(svc.Spec.Selector) == 0 {
			fail("no selector")
			continue
		}
		var picked []*Workload
		for _, w := range m.Workloads {
			match := true
			for k, v := range svc.Spec.Selector {
				match = match && w.Labels[k] == v
			}
			if match {
				picked = append(picked, w)
			}
		}
		if len(picked) != 1 {
			fail("selects the pods of %d workloads, want one", len(picked))
			continue
		}
		for _, sp := range svc.Spec.Ports {
			found := false
			for _, ct := range picked[0].Pod.Containers {
				for _, cp := range ct.Ports {
					found = found || sp.TargetPort.StrVal != "" && cp.Name == sp.TargetPort.StrVal ||
						sp.TargetPort.StrVal == "" && cp.ContainerPort == portNumber(sp)
				}
			}
			if !found {
				fail("port %s: target %s is no container port of %s %s", sp.Name, sp.TargetPort.String(), picked[0].Kind, picked[0].Name)
			}
		}
	}
	return errs
}

// portNumber is the container port a Service port with a numeric (or
// no) targetPort leads to.
func portNumber(sp corev1.ServicePort) int32 {
	if sp.TargetPort.IntVal != 0 {
		return sp.TargetPort.IntVal
	}
	return sp.Port
}

// addNamed decodes a ConfigMap, Secret or Service into its map: a
// second object of the same kind and name is an error.
func addNamed[T any, P interface {
	*T
	GetName() string
}](objs map[string]*T, kind, where string, strict func(any) error) error {
	o := P(new(T))
	if err := strict(o); err != nil {
		return err
	}
	if objs[o.GetName()] != nil {
		return fmt.Errorf("%s: %s %s defined twice", where, kind, o.GetName())
	}
	objs[o.GetName()] = o
	return nil
}

// DecodeStrict decodes YAML into an API type as the API server's strict
// field validation does: field names are case-sensitive, and an unknown
// or duplicate field is an error. (sigs.k8s.io/yaml's UnmarshalStrict
// goes through encoding/json, which matches field names regardless of
// case, so it would take "Image" for "image".)
func DecodeStrict(doc []byte, obj any) error {
	j, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return err
	}
	strictErrs, err := sigsjson.UnmarshalStrict(j, obj)
	if err != nil {
		return err
	}
	return errors.Join(strictErrs...)
}

func stripComments(doc []byte) []byte {
	var b bytes.Buffer
	for _, l := range strings.Split(string(doc), "\n") {
		if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "#") && t != "---" {
			b.WriteString(l)
		}
	}
	return b.Bytes()
}

// secretValue returns a Secret's value for key (stringData wins, as the
// API server merges it into data).
func secretValue(s *corev1.Secret, key string) ([]byte, bool) {
	if v, ok := s.StringData[key]; ok {
		return []byte(v), true
	}
	v, ok := s.Data[key]
	return v, ok
}

func configMapValue(c *corev1.ConfigMap, key string) ([]byte, bool) {
	if v, ok := c.Data[key]; ok {
		return []byte(v), true
	}
	v, ok := c.BinaryData[key]
	return v, ok
}

// IsFluentBit reports whether a container runs the image of
// conf/docker/Dockerfile.
func IsFluentBit(c *corev1.Container) bool {
	repo, _, _ := SplitImage(c.Image)
	return path.Base(repo) == ImageName
}

// CheckOptions tunes CheckWorkload.
type CheckOptions struct {
	// Unread lists mounted files that may go unread: a file that a
	// generator (the Helm chart) always writes.
	Unread map[string]bool
	// TempDir receives copies of the files sshenrich reads in Init.
	TempDir string
}

// CheckWorkload checks a pod against the manifests, the image and the
// Fluent Bit configuration each of its Fluent Bit containers reads.
func CheckWorkload(w *Workload, m *Manifests, img *Image, opt CheckOptions) []error {
	c := &podCheck{w: w, m: m, img: img, opt: opt, vols: map[string]*corev1.Volume{}}
	c.run()
	return c.errs
}

type podCheck struct {
	w    *Workload
	m    *Manifests
	img  *Image
	opt  CheckOptions
	vols map[string]*corev1.Volume
	errs []error
}

func (c *podCheck) fail(format string, a ...any) {
	c.errs = append(c.errs, fmt.Errorf("%s %s: "+format, append([]any{c.w.Kind, c.w.Name}, a...)...))
}

func (c *podCheck) containers() []*corev1.Container {
	var out []*corev1.Container
	for i := range c.w.Pod.InitContainers {
		out = append(out, &c.w.Pod.InitContainers[i])
	}
	for i := range c.w.Pod.Containers {
		out = append(out, &c.w.Pod.Containers[i])
	}
	return out
}

func (c *podCheck) run() {
	pod := c.w.Pod
	if c.w.Selector == nil || len(c.w.Selector.MatchLabels) == 0 {
		c.fail("no selector matchLabels")
	} else {
		for k, v := range c.w.Selector.MatchLabels {
			if c.w.Labels[k] != v {
				c.fail("selector %s=%s does not match the pod template's labels", k, v)
			}
		}
	}
	for i := range pod.Volumes {
		v := &pod.Volumes[i]
		if c.vols[v.Name] != nil {
			c.fail("volume %s defined twice", v.Name)
		}
		c.vols[v.Name] = v
		c.checkVolumeSource(v)
	}
	for _, cl := range c.w.Claims {
		// A StatefulSet's claim is mounted by its name, as a volume is.
		if c.vols[cl.Name] != nil {
			c.fail("claim %s has the name of a volume", cl.Name)
		}
		c.vols[cl.Name] = &corev1.Volume{Name: cl.Name, VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: cl.Name}}}
		if _, ok := cl.Spec.Resources.Requests[corev1.ResourceStorage]; !ok {
			c.fail("claim %s requests no storage", cl.Name)
		}
	}
	if c.w.Kind == "StatefulSet" {
		if c.w.Replicas == nil || *c.w.Replicas != 1 {
			c.fail("replicas: one; correlation state is per instance, and two replicas would each count part of the fleet")
		}
		if c.m.Services[c.w.ServiceName] == nil {
			c.fail("serviceName %q is not a Service of the manifests", c.w.ServiceName)
		}
	}
	mounted := map[string]bool{}
	fluentBit := 0
	for _, ct := range c.containers() {
		c.checkImage(ct)
		c.checkEnvRefs(ct)
		c.checkResources(ct)
		for _, vm := range ct.VolumeMounts {
			if c.vols[vm.Name] == nil {
				c.fail("container %s mounts %s, which is not a volume of the pod", ct.Name, vm.Name)
			}
			mounted[vm.Name] = true
		}
		if IsFluentBit(ct) {
			fluentBit++
			c.checkFluentBit(ct)
		}
	}
	for name := range c.vols {
		if !mounted[name] {
			c.fail("volume %s is mounted by no container", name)
		}
	}
	if fluentBit == 0 {
		c.fail("no container runs the %s image", ImageName)
		return
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		c.fail("automountServiceAccountToken: Fluent Bit calls no Kubernetes API here; set it to false")
	}
	if sc := pod.SecurityContext; sc == nil || sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		c.fail("the pod's securityContext.seccompProfile should be RuntimeDefault")
	}
}

func (c *podCheck) checkVolumeSource(v *corev1.Volume) {
	switch {
	case v.ConfigMap != nil:
		cm := c.m.ConfigMaps[v.ConfigMap.Name]
		if cm == nil {
			c.fail("volume %s: ConfigMap %s is not in the manifests", v.Name, v.ConfigMap.Name)
			return
		}
		for _, it := range v.ConfigMap.Items {
			if _, ok := configMapValue(cm, it.Key); !ok {
				c.fail("volume %s: ConfigMap %s has no key %s", v.Name, cm.Name, it.Key)
			}
		}
	case v.Secret != nil:
		s := c.m.Secrets[v.Secret.SecretName]
		if s == nil {
			c.fail("volume %s: Secret %s is not in the manifests", v.Name, v.Secret.SecretName)
			return
		}
		for _, it := range v.Secret.Items {
			if _, ok := secretValue(s, it.Key); !ok {
				c.fail("volume %s: Secret %s has no key %s", v.Name, s.Name, it.Key)
			}
		}
	case v.HostPath != nil, v.EmptyDir != nil:
	default:
		c.fail("volume %s: only configMap, secret, hostPath and emptyDir volumes are checked", v.Name)
	}
}

func (c *podCheck) checkImage(ct *corev1.Container) {
	_, tag, digest := SplitImage(ct.Image)
	if digest == "" && (tag == "" || tag == "latest") {
		c.fail("container %s: image %s is not pinned (a release tag or a digest)", ct.Name, ct.Image)
	}
	if IsFluentBit(ct) && tag != FluentBitTag {
		c.fail("container %s: image %s: the image conf/docker/Dockerfile builds is tagged with its Fluent Bit version, %s", ct.Name, ct.Image, FluentBitTag)
	}
}

func (c *podCheck) checkEnvRefs(ct *corev1.Container) {
	for _, e := range ct.Env {
		if e.ValueFrom == nil {
			continue
		}
		if r := e.ValueFrom.SecretKeyRef; r != nil && (r.Optional == nil || !*r.Optional) {
			s := c.m.Secrets[r.Name]
			if s == nil {
				c.fail("container %s: env %s: Secret %s is not in the manifests", ct.Name, e.Name, r.Name)
			} else if _, ok := secretValue(s, r.Key); !ok {
				c.fail("container %s: env %s: Secret %s has no key %s", ct.Name, e.Name, r.Name, r.Key)
			}
		}
		if r := e.ValueFrom.ConfigMapKeyRef; r != nil && (r.Optional == nil || !*r.Optional) {
			cm := c.m.ConfigMaps[r.Name]
			if cm == nil {
				c.fail("container %s: env %s: ConfigMap %s is not in the manifests", ct.Name, e.Name, r.Name)
			} else if _, ok := configMapValue(cm, r.Key); !ok {
				c.fail("container %s: env %s: ConfigMap %s has no key %s", ct.Name, e.Name, r.Name, r.Key)
			}
		}
	}
}

func (c *podCheck) checkResources(ct *corev1.Container) {
	r := ct.Resources
	for name, req := range r.Requests {
		if lim, ok := r.Limits[name]; ok && req.Cmp(lim) > 0 {
			c.fail("container %s: %s request %s exceeds its limit %s", ct.Name, name, req.String(), lim.String())
		}
	}
	if !IsFluentBit(ct) {
		return
	}
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if _, ok := r.Requests[name]; !ok {
			c.fail("container %s: no %s request", ct.Name, name)
		}
		if _, ok := r.Limits[name]; !ok {
			c.fail("container %s: no %s limit", ct.Name, name)
		}
	}
}

// env resolves a container's environment: values as written, Secret
// and ConfigMap references from the manifests.
func (c *podCheck) env(ct *corev1.Container) map[string]string {
	env := map[string]string{}
	for _, ef := range ct.EnvFrom {
		switch {
		case ef.SecretRef != nil && c.m.Secrets[ef.SecretRef.Name] != nil:
			s := c.m.Secrets[ef.SecretRef.Name]
			for k, v := range s.Data {
				env[ef.Prefix+k] = string(v)
			}
			for k, v := range s.StringData {
				env[ef.Prefix+k] = v
			}
		case ef.ConfigMapRef != nil && c.m.ConfigMaps[ef.ConfigMapRef.Name] != nil:
			for k, v := range c.m.ConfigMaps[ef.ConfigMapRef.Name].Data {
				env[ef.Prefix+k] = v
			}
		default:
			c.fail("container %s: envFrom names nothing in the manifests", ct.Name)
		}
	}
	for _, e := range ct.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.SecretKeyRef != nil:
			if s := c.m.Secrets[e.ValueFrom.SecretKeyRef.Name]; s != nil {
				if v, ok := secretValue(s, e.ValueFrom.SecretKeyRef.Key); ok {
					env[e.Name] = string(v)
				}
			}
		case e.ValueFrom.ConfigMapKeyRef != nil:
			if cm := c.m.ConfigMaps[e.ValueFrom.ConfigMapKeyRef.Name]; cm != nil {
				env[e.Name] = cm.Data[e.ValueFrom.ConfigMapKeyRef.Key]
			}
		default:
			env[e.Name] = "(from the pod: " + e.Name + ")"
		}
	}
	return env
}

// mountedFiles adds the files of the container's ConfigMap and Secret
// volumes to files and returns their paths.
func (c *podCheck) mountedFiles(ct *corev1.Container, files Files) (cmFiles, secretFiles []string) {
	for _, vm := range ct.VolumeMounts {
		v := c.vols[vm.Name]
		if v == nil {
			continue
		}
		var keys map[string][]byte
		var items []corev1.KeyToPath
		var list *[]string
		switch {
		case v.ConfigMap != nil && c.m.ConfigMaps[v.ConfigMap.Name] != nil:
			cm := c.m.ConfigMaps[v.ConfigMap.Name]
			keys = map[string][]byte{}
			for k, d := range cm.Data {
				keys[k] = []byte(d)
			}
			for k, d := range cm.BinaryData {
				keys[k] = d
			}
			items, list = v.ConfigMap.Items, &cmFiles
		case v.Secret != nil && c.m.Secrets[v.Secret.SecretName] != nil:
			s := c.m.Secrets[v.Secret.SecretName]
			keys = map[string][]byte{}
			for k, d := range s.Data {
				keys[k] = d
			}
			for k, d := range s.StringData {
				keys[k] = []byte(d)
			}
			items, list = v.Secret.Items, &secretFiles
		default:
			continue
		}
		if len(items) == 0 {
			for k := range keys {
				items = append(items, corev1.KeyToPath{Key: k, Path: k})
			}
		}
		for _, it := range items {
			data, ok := keys[it.Key]
			if !ok {
				continue
			}
			p := path.Join(vm.MountPath, it.Path)
			if vm.SubPath != "" {
				if it.Path != vm.SubPath {
					continue
				}
				p = vm.MountPath
			}
			files[p] = data
			*list = append(*list, p)
		}
	}
	return cmFiles, secretFiles
}

// commandLine finds the configuration file and working directory of a
// Fluent Bit container's command line (the image's ENTRYPOINT and CMD
// when it sets neither).
func commandLine(ct *corev1.Container) (conf, workdir string, err error) {
	if len(ct.Command) == 0 && len(ct.Args) == 0 {
		return ImageConfig, ImageWorkdir, nil
	}
	args := ct.Args
	if len(ct.Command) > 0 {
		if ct.Command[0] != ImageBinary {
			return "", "", fmt.Errorf("command %q: the image's binary is %s", ct.Command, ImageBinary)
		}
		args = append(append([]string{}, ct.Command[1:]...), args...)
	}
	workdir = ImageWorkdir
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case (a == "-c" || a == "--config") && i+1 < len(args):
			conf = args[i+1]
			i++
		case strings.HasPrefix(a, "--config="):
			conf = strings.TrimPrefix(a, "--config=")
		case (a == "-w" || a == "--workdir") && i+1 < len(args):
			workdir = args[i+1]
			i++
		case strings.HasPrefix(a, "--workdir="):
			workdir = strings.TrimPrefix(a, "--workdir=")
		}
	}
	if conf == "" {
		return "", "", fmt.Errorf("command %q args %q name no configuration (-c)", ct.Command, ct.Args)
	}
	return conf, workdir, nil
}

func (c *podCheck) mountOf(ct *corev1.Container, p string) (*corev1.VolumeMount, *corev1.Volume) {
	var best *corev1.VolumeMount
	for i := range ct.VolumeMounts {
		vm := &ct.VolumeMounts[i]
		if (p == vm.MountPath || strings.HasPrefix(p, strings.TrimSuffix(vm.MountPath, "/")+"/")) && (best == nil || len(vm.MountPath) > len(best.MountPath)) {
			best = vm
		}
	}
	if best == nil {
		return nil, nil
	}
	return best, c.vols[best.Name]
}

func (c *podCheck) checkFluentBit(ct *corev1.Container) {
	files := Files{}
	for p, d := range c.img.Files {
		files[p] = d
	}
	cmFiles, secretFiles := c.mountedFiles(ct, files)
	conf, workdir, err := commandLine(ct)
	if err != nil {
		c.fail("container %s: %v", ct.Name, err)
		return
	}
	cfg, err := LoadFluentBit(files, conf, workdir)
	if err != nil {
		c.fail("container %s: %v", ct.Name, err)
		return
	}
	pl, perrs := CheckPipeline(cfg, Runtime{Env: c.env(ct), Files: files, TempDir: c.opt.TempDir})
	for _, e := range perrs {
		c.fail("container %s: %v", ct.Name, e)
	}
	read := map[string]bool{}
	for _, p := range append(append([]string{}, cfg.Read...), pl.Opened...) {
		read[p] = true
	}
	for _, p := range append(cmFiles, secretFiles...) {
		if !read[p] && !c.opt.Unread[p] {
			c.fail("container %s: %s is mounted but neither Fluent Bit nor sshenrich reads it", ct.Name, p)
		}
	}
	c.checkPaths(ct, cfg)
	c.checkProbes(ct, cfg)
	c.checkSecurity(ct)
}

// checkPaths puts what Fluent Bit writes on volumes (the buffer on the
// node for a DaemonSet, so that it outlives the pod; the socket on an
// emptyDir), what it reads on read-only mounts, and a sidecar's log on a
// volume another container writes.
func (c *podCheck) checkPaths(ct *corev1.Container, cfg *Config) {
	written := map[string]bool{}
	writes := func(what, p string, persistent bool) {
		vm, v := c.mountOf(ct, p)
		switch {
		case vm == nil:
			c.fail("container %s: %s %s is on no volume (the root filesystem is read-only)", ct.Name, what, p)
		case vm.ReadOnly:
			c.fail("container %s: %s %s is on the read-only mount %s", ct.Name, what, p, vm.Name)
		case persistent && c.w.Kind == "DaemonSet" && v.HostPath == nil:
			c.fail("container %s: %s %s is on %s, which dies with the pod; a DaemonSet keeps its buffer on the node (hostPath)", ct.Name, what, p, vm.Name)
		case persistent && c.w.Kind == "StatefulSet" && v.PersistentVolumeClaim == nil:
			c.fail("container %s: %s %s is on %s, which dies with the pod; a StatefulSet keeps its buffer on its claim", ct.Name, what, p, vm.Name)
		case !persistent && v.EmptyDir == nil:
			c.fail("container %s: %s %s belongs on an emptyDir", ct.Name, what, p)
		default:
			written[vm.Name] = true
		}
	}
	reads := func(what, p string) {
		vm, v := c.mountOf(ct, p)
		switch {
		case vm == nil:
			c.fail("container %s: %s %s is on no volume", ct.Name, what, p)
		case v != nil && v.EmptyDir != nil && !c.writtenByOther(ct, vm.Name):
			c.fail("container %s: %s %s is on the emptyDir %s, which no other container writes", ct.Name, what, p, vm.Name)
		}
	}
	if sp := cfg.Service().Get("storage.path"); sp != "" {
		writes("storage.path", sp, true)
	}
	for _, out := range cfg.All("OUTPUT") {
		if sf := out.Get("correlation_state_file"); out.Name() == "sshenrich" && sf != "" {
			writes("sshenrich correlation_state_file", sf, true)
		}
	}
	journal := false
	for _, in := range cfg.All("INPUT") {
		if db := in.Get("db"); db != "" {
			writes(in.Name()+" DB", db, true)
		}
		switch in.Name() {
		case "tail":
			for _, p := range strings.Split(in.Get("path"), ",") {
				reads("tail Path", strings.TrimSpace(p))
			}
		case "systemd":
			if p := in.Get("path"); p != "" {
				reads("systemd Path", p)
			} else {
				journal = true
			}
		case "forward":
			if p := in.Get("unix_path"); p != "" {
				writes("forward Unix_Path", p, false)
			}
		}
	}
	if journal {
		vm1, _ := c.mountOf(ct, "/var/log/journal")
		vm2, _ := c.mountOf(ct, "/run/log/journal")
		vm3, _ := c.mountOf(ct, "/etc/machine-id")
		if vm1 == nil || vm2 == nil || vm3 == nil {
			c.fail("container %s: the systemd input reads /var/log/journal and /run/log/journal for /etc/machine-id: mount all three", ct.Name)
		}
	}
	for _, vm := range ct.VolumeMounts {
		if v := c.vols[vm.Name]; v != nil && v.HostPath != nil && !written[vm.Name] && !vm.ReadOnly {
			c.fail("container %s: hostPath %s is not written to; mount it readOnly", ct.Name, vm.Name)
		}
	}
}

func (c *podCheck) writtenByOther(self *corev1.Container, volume string) bool {
	for _, ct := range c.containers() {
		if ct == self {
			continue
		}
		for _, vm := range ct.VolumeMounts {
			if vm.Name == volume && !vm.ReadOnly {
				return true
			}
		}
	}
	return false
}

// httpPaths are the Fluent Bit 5.1.1 HTTP server's paths a probe may
// use; the health paths exist only with Health_Check on.
var httpPaths = map[string]bool{"/": false, "/api/v1/uptime": false, "/api/v1/metrics": false, "/api/v2/metrics": false, "/api/v1/health": true, "/api/v2/health": true}

func (c *podCheck) checkProbes(ct *corev1.Container, cfg *Config) {
	svc := cfg.Service()
	port := svc.Get("http_port")
	if port == "" {
		port = "2020"
	}
	listen := svc.Get("http_listen")
	if ct.LivenessProbe == nil {
		c.fail("container %s: no liveness probe", ct.Name)
	}
	for kind, p := range map[string]*corev1.Probe{"liveness": ct.LivenessProbe, "readiness": ct.ReadinessProbe, "startup": ct.StartupProbe} {
		if p == nil {
			continue
		}
		if p.HTTPGet == nil {
			c.fail("container %s: %s probe: use httpGet on Fluent Bit's HTTP server", ct.Name, kind)
			continue
		}
		if !flbBool(svc.Get("http_server")) {
			c.fail("container %s: %s probe: HTTP_Server is off", ct.Name, kind)
		}
		if listen == "127.0.0.1" || listen == "localhost" || listen == "::1" {
			c.fail("container %s: %s probe: HTTP_Listen %s cannot be reached by the kubelet", ct.Name, kind, listen)
		}
		num := p.HTTPGet.Port.IntValue()
		if p.HTTPGet.Port.StrVal != "" {
			num = 0
			for _, cp := range ct.Ports {
				if cp.Name == p.HTTPGet.Port.StrVal {
					num = int(cp.ContainerPort)
				}
			}
			if num == 0 {
				c.fail("container %s: %s probe: no container port named %s", ct.Name, kind, p.HTTPGet.Port.StrVal)
			}
		}
		if fmt.Sprint(num) != port {
			c.fail("container %s: %s probe: port %d, but HTTP_Port is %s", ct.Name, kind, num, port)
		}
		needsHealth, known := httpPaths[p.HTTPGet.Path]
		switch {
		case !known:
			c.fail("container %s: %s probe: Fluent Bit serves no %s", ct.Name, kind, p.HTTPGet.Path)
		case needsHealth && !flbBool(svc.Get("health_check")):
			c.fail("container %s: %s probe: %s needs Health_Check on", ct.Name, kind, p.HTTPGet.Path)
		}
	}
}

func (c *podCheck) checkSecurity(ct *corev1.Container) {
	sc := ct.SecurityContext
	if sc == nil {
		c.fail("container %s: no securityContext", ct.Name)
		return
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		c.fail("container %s: set allowPrivilegeEscalation false", ct.Name)
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		c.fail("container %s: set readOnlyRootFilesystem true (it writes only to its volumes)", ct.Name)
	}
	if sc.Privileged != nil && *sc.Privileged {
		c.fail("container %s: privileged", ct.Name)
	}
	drop := false
	if sc.Capabilities != nil {
		for _, cp := range sc.Capabilities.Drop {
			drop = drop || cp == "ALL"
		}
		if len(sc.Capabilities.Add) > 0 {
			c.fail("container %s: adds capabilities %v", ct.Name, sc.Capabilities.Add)
		}
	}
	if !drop {
		c.fail("container %s: drop ALL capabilities", ct.Name)
	}
}
