package deploytest

import (
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ChartVersion is the fluent/fluent-bit chart the values are written for.
const ChartVersion = "0.58.1"

// ChartValues are the keys of the fluent/fluent-bit Helm chart (0.58.1:
// charts/fluent-bit/values.yaml, used by templates/_pod.tpl,
// daemonset.yaml and configmap.yaml) that a values file here may set.
// The chart has more; those that would change the pod in ways
// ChartWorkload does not model (extra or init containers, hot reload, Lua
// scripts, an existing ConfigMap, kind Deployment's extras) are left out
// on purpose, so that strict decoding rejects them along with misspelt
// keys. The Kubernetes parts have the API types the chart copies them
// into.
type ChartValues struct {
	Kind  string `json:"kind"`
	Image struct {
		Repository string `json:"repository"`
		Tag        string `json:"tag"`
		Digest     string `json:"digest,omitempty"`
		PullPolicy string `json:"pullPolicy,omitempty"`
	} `json:"image"`
	TestFramework struct {
		Enabled bool `json:"enabled"`
	} `json:"testFramework"`
	ServiceAccount struct {
		Create                       bool              `json:"create"`
		Name                         string            `json:"name,omitempty"`
		Annotations                  map[string]string `json:"annotations,omitempty"`
		AutomountServiceAccountToken *bool             `json:"automountServiceAccountToken,omitempty"`
	} `json:"serviceAccount"`
	RBAC struct {
		Create bool `json:"create"`
	} `json:"rbac"`
	ImagePullSecrets              []corev1.LocalObjectReference   `json:"imagePullSecrets,omitempty"`
	PodSecurityContext            *corev1.PodSecurityContext      `json:"podSecurityContext,omitempty"`
	SecurityContext               *corev1.SecurityContext         `json:"securityContext,omitempty"`
	Tolerations                   []corev1.Toleration             `json:"tolerations,omitempty"`
	NodeSelector                  map[string]string               `json:"nodeSelector,omitempty"`
	Affinity                      *corev1.Affinity                `json:"affinity,omitempty"`
	PriorityClassName             string                          `json:"priorityClassName,omitempty"`
	TerminationGracePeriodSeconds *int64                          `json:"terminationGracePeriodSeconds,omitempty"`
	UpdateStrategy                *appsv1.DaemonSetUpdateStrategy `json:"updateStrategy,omitempty"`
	PodLabels                     map[string]string               `json:"podLabels,omitempty"`
	PodAnnotations                map[string]string               `json:"podAnnotations,omitempty"`
	Resources                     corev1.ResourceRequirements     `json:"resources"`
	MetricsPort                   int32                           `json:"metricsPort"`
	LivenessProbe                 *corev1.Probe                   `json:"livenessProbe"`
	ReadinessProbe                *corev1.Probe                   `json:"readinessProbe"`
	Command                       []string                        `json:"command"`
	Args                          []string                        `json:"args"`
	Env                           []corev1.EnvVar                 `json:"env,omitempty"`
	EnvFrom                       []corev1.EnvFromSource          `json:"envFrom,omitempty"`
	DaemonSetVolumes              []corev1.Volume                 `json:"daemonSetVolumes"`
	DaemonSetVolumeMounts         []corev1.VolumeMount            `json:"daemonSetVolumeMounts"`
	ExtraVolumes                  []corev1.Volume                 `json:"extraVolumes,omitempty"`
	ExtraVolumeMounts             []corev1.VolumeMount            `json:"extraVolumeMounts,omitempty"`
	Config                        struct {
		Service       string            `json:"service"`
		Inputs        string            `json:"inputs"`
		Filters       string            `json:"filters"`
		Outputs       string            `json:"outputs"`
		CustomParsers string            `json:"customParsers"`
		ExtraFiles    map[string]string `json:"extraFiles,omitempty"`
	} `json:"config"`
}

// Where the chart puts things (templates/_pod.tpl and configmap.yaml).
const (
	chartConfigMount = "/fluent-bit/etc/conf"
	chartConfigMap   = "fluent-bit"
	chartContainer   = "fluent-bit"
	chartParsersKey  = "custom_parsers.conf"
)

// LoadChartValues decodes a values file strictly.
func LoadChartValues(data []byte) (*ChartValues, error) {
	var v ChartValues
	if err := DecodeStrict(data, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// ChartWorkload builds the DaemonSet and ConfigMap the chart would render
// from the values, the way its templates assemble them, without Helm:
// fluent-bit.conf is service, inputs, filters and outputs one after the
// other, custom_parsers.conf and each extraFiles entry sit beside it in
// /fluent-bit/etc/conf, and the pod gets the config volume, then
// daemonSetVolumes and extraVolumes. The values must hold no {{ }}
// template, so that this text is what Fluent Bit reads. It also returns
// the paths of files the chart writes that may go unread.
func ChartWorkload(v *ChartValues) (*Workload, *corev1.ConfigMap, map[string]bool, error) {
	if v.Kind != "DaemonSet" {
		return nil, nil, nil, fmt.Errorf("kind %q: these values are for the chart's DaemonSet", v.Kind)
	}
	texts := map[string]string{"service": v.Config.Service, "inputs": v.Config.Inputs, "filters": v.Config.Filters, "outputs": v.Config.Outputs, "customParsers": v.Config.CustomParsers}
	for k, t := range v.Config.ExtraFiles {
		texts["extraFiles."+k] = t
	}
	for k, t := range texts {
		if strings.Contains(t, "{{") {
			return nil, nil, nil, fmt.Errorf("config.%s holds a {{ }} template; keep the values render-free", k)
		}
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: chartConfigMap}, Data: map[string]string{
		chartParsersKey:   v.Config.CustomParsers,
		"fluent-bit.conf": strings.Join([]string{v.Config.Service, v.Config.Inputs, v.Config.Filters, v.Config.Outputs}, "\n"),
	}}
	for k, t := range v.Config.ExtraFiles {
		if _, taken := cm.Data[k]; taken {
			return nil, nil, nil, fmt.Errorf("config.extraFiles.%s replaces a file the chart writes", k)
		}
		cm.Data[k] = t
	}
	image := v.Image.Repository
	if v.Image.Tag != "" {
		image += ":" + v.Image.Tag
	}
	if v.Image.Digest != "" {
		image += "@" + v.Image.Digest
	}
	ct := corev1.Container{
		Name:            chartContainer,
		Image:           image,
		Command:         v.Command,
		Args:            v.Args,
		Env:             v.Env,
		EnvFrom:         v.EnvFrom,
		Ports:           []corev1.ContainerPort{{Name: "http", ContainerPort: v.MetricsPort, Protocol: corev1.ProtocolTCP}},
		LivenessProbe:   v.LivenessProbe,
		ReadinessProbe:  v.ReadinessProbe,
		Resources:       v.Resources,
		SecurityContext: v.SecurityContext,
		VolumeMounts:    append(append([]corev1.VolumeMount{{Name: "config", MountPath: chartConfigMount}}, v.DaemonSetVolumeMounts...), v.ExtraVolumeMounts...),
	}
	labels := map[string]string{"app.kubernetes.io/name": "fluent-bit", "app.kubernetes.io/instance": "sshenrich"}
	pod := &corev1.PodSpec{
		AutomountServiceAccountToken: v.ServiceAccount.AutomountServiceAccountToken,
		SecurityContext:              v.PodSecurityContext,
		Containers:                   []corev1.Container{ct},
		Tolerations:                  v.Tolerations,
		Volumes: append(append([]corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{
			ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: chartConfigMap}},
		}}}, v.DaemonSetVolumes...), v.ExtraVolumes...),
	}
	w := &Workload{Kind: "DaemonSet", Name: "fluent-bit (Helm values)", Where: "values", Selector: &metav1.LabelSelector{MatchLabels: labels}, Labels: labels, Pod: pod}
	unread := map[string]bool{}
	if strings.TrimSpace(v.Config.CustomParsers) == "" {
		unread[chartConfigMount+"/"+chartParsersKey] = true
	}
	return w, cm, unread, nil
}
