package kubernetes

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// object is one decoded manifest document.
type object struct {
	file      string // relative to this folder, with the document's index when several
	kind      string
	name      string
	namespace string
	obj       any    // a pointer to the typed object
	raw       []byte // the document as written
}

func (o *object) String() string { return o.kind + "/" + o.name + " (" + o.file + ")" }

// The kinds the manifests may use, by apiVersion and kind. Anything else fails.
var kinds = map[string]func() any{
	"v1/Namespace":                                  func() any { return &corev1.Namespace{} },
	"v1/Service":                                    func() any { return &corev1.Service{} },
	"v1/Secret":                                     func() any { return &corev1.Secret{} },
	"apps/v1/Deployment":                            func() any { return &appsv1.Deployment{} },
	"autoscaling/v2/HorizontalPodAutoscaler":        func() any { return &autoscalingv2.HorizontalPodAutoscaler{} },
	"policy/v1/PodDisruptionBudget":                 func() any { return &policyv1.PodDisruptionBudget{} },
	"networking.k8s.io/v1/NetworkPolicy":            func() any { return &networkingv1.NetworkPolicy{} },
	"networking.k8s.io/v1/Ingress":                  func() any { return &networkingv1.Ingress{} },
	"cert-manager.io/v1/Certificate":                func() any { return &certificate{} },
	"cert-manager.io/v1/Issuer":                     func() any { return &issuer{} },
	"kustomize.config.k8s.io/v1beta1/Kustomization": nil, // decoded by readKustomization
	"kustomize.config.k8s.io/v1alpha1/Component":    nil,
}

// certificate is the part of cert-manager's Certificate (cert-manager.io/v1) the
// manifests use; decoding strictly into it rejects any other field.
type certificate struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		SecretName  string   `json:"secretName"`
		CommonName  string   `json:"commonName,omitempty"`
		DNSNames    []string `json:"dnsNames,omitempty"`
		IsCA        bool     `json:"isCA,omitempty"`
		Duration    string   `json:"duration,omitempty"`
		RenewBefore string   `json:"renewBefore,omitempty"`
		Usages      []string `json:"usages,omitempty"`
		PrivateKey  *struct {
			Algorithm      string `json:"algorithm"`
			Size           int    `json:"size"`
			RotationPolicy string `json:"rotationPolicy,omitempty"`
		} `json:"privateKey,omitempty"`
		IssuerRef struct {
			Name  string `json:"name"`
			Kind  string `json:"kind"`
			Group string `json:"group"`
		} `json:"issuerRef"`
	} `json:"spec"`
}

// issuer is the part of cert-manager's Issuer the manifests use.
type issuer struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		SelfSigned *struct{} `json:"selfSigned,omitempty"`
		CA         *struct {
			SecretName string `json:"secretName"`
		} `json:"ca,omitempty"`
	} `json:"spec"`
}

// validate checks the values cert-manager would refuse.
func (c *certificate) validate() error {
	usages := map[string]bool{"signing": true, "digital signature": true, "content commitment": true,
		"key encipherment": true, "key agreement": true, "data encipherment": true, "cert sign": true,
		"crl sign": true, "encipher only": true, "decipher only": true, "any": true, "server auth": true,
		"client auth": true, "code signing": true, "email protection": true, "s/mime": true,
		"ipsec end system": true, "ipsec tunnel": true, "ipsec user": true, "timestamping": true,
		"ocsp signing": true, "microsoft sgc": true, "netscape sgc": true}
	for _, u := range c.Spec.Usages {
		if !usages[u] {
			return fmt.Errorf("unknown usage %q", u)
		}
	}
	for _, d := range []string{c.Spec.Duration, c.Spec.RenewBefore} {
		if d == "" {
			continue
		}
		if _, err := time.ParseDuration(d); err != nil {
			return err
		}
	}
	if c.Spec.SecretName == "" || c.Spec.IssuerRef.Name == "" {
		return fmt.Errorf("secretName and issuerRef.name are required")
	}
	if k := c.Spec.PrivateKey; k != nil {
		switch k.Algorithm {
		case "RSA", "ECDSA", "Ed25519":
		default:
			return fmt.Errorf("unknown private key algorithm %q", k.Algorithm)
		}
		switch k.RotationPolicy {
		case "", "Never", "Always":
		default:
			return fmt.Errorf("unknown rotationPolicy %q", k.RotationPolicy)
		}
	}
	return nil
}

// unmarshalStrict decodes YAML (or JSON) as the API server's strict field
// validation does: duplicate keys, unknown fields and fields spelt with other
// capitals fail (encoding/json alone would accept "targetport").
func unmarshalStrict(doc []byte, obj any) error {
	j, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return err
	}
	strict, err := sigsjson.UnmarshalStrict(j, obj, sigsjson.DisallowDuplicateFields, sigsjson.DisallowUnknownFields)
	if err != nil {
		return err
	}
	return errors.Join(strict...)
}

// splitDocuments splits a YAML stream at its "---" lines.
func splitDocuments(b []byte) [][]byte {
	var docs [][]byte
	for _, d := range docSep.Split(string(b), -1) {
		if strings.TrimSpace(stripComments(d)) != "" {
			docs = append(docs, []byte(d))
		}
	}
	return docs
}

func stripComments(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// decodeFile decodes every document of a manifest file strictly.
func decodeFile(rel string) ([]*object, error) {
	b, err := os.ReadFile(rel)
	if err != nil {
		return nil, err
	}
	docs := splitDocuments(b)
	var out []*object
	for i, doc := range docs {
		name := rel
		if len(docs) > 1 {
			name = fmt.Sprintf("%s#%d", rel, i)
		}
		o, err := decode(name, doc)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

func decode(file string, doc []byte) (*object, error) {
	var head struct {
		APIVersion string            `json:"apiVersion"`
		Kind       string            `json:"kind"`
		Metadata   metav1.ObjectMeta `json:"metadata"`
	}
	if err := yaml.Unmarshal(doc, &head); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	newObj, ok := kinds[head.APIVersion+"/"+head.Kind]
	if !ok || newObj == nil {
		return nil, fmt.Errorf("%s: unexpected apiVersion/kind %s/%s", file, head.APIVersion, head.Kind)
	}
	obj := newObj()
	if err := unmarshalStrict(doc, obj); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if c, ok := obj.(*certificate); ok {
		if err := c.validate(); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
	}
	return &object{file: file, kind: head.Kind, name: head.Metadata.Name, namespace: head.Metadata.Namespace, obj: obj, raw: doc}, nil
}

// kustomization is the part of kustomize's Kustomization and Component the
// manifests use; decoding strictly into it rejects any other field.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Resources  []string `json:"resources,omitempty"`
	Components []string `json:"components,omitempty"`
	Images     []struct {
		Name    string `json:"name"`
		NewName string `json:"newName,omitempty"`
		NewTag  string `json:"newTag,omitempty"`
		Digest  string `json:"digest,omitempty"`
	} `json:"images,omitempty"`
	SecretGenerator []struct {
		Name      string   `json:"name"`
		Namespace string   `json:"namespace,omitempty"`
		Type      string   `json:"type,omitempty"`
		Literals  []string `json:"literals,omitempty"`
		Files     []string `json:"files,omitempty"`
		Options   *struct {
			DisableNameSuffixHash bool `json:"disableNameSuffixHash,omitempty"`
		} `json:"options,omitempty"`
	} `json:"secretGenerator,omitempty"`
	Patches []struct {
		Path string `json:"path"`
	} `json:"patches,omitempty"`
}

func readKustomization(dir string) (*kustomization, error) {
	b, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		return nil, err
	}
	var k kustomization
	if err := unmarshalStrict(b, &k); err != nil {
		return nil, fmt.Errorf("%s/kustomization.yaml: %w", dir, err)
	}
	switch k.APIVersion + "/" + k.Kind {
	case "kustomize.config.k8s.io/v1beta1/Kustomization", "kustomize.config.k8s.io/v1alpha1/Component":
	default:
		return nil, fmt.Errorf("%s/kustomization.yaml: apiVersion/kind %s/%s", dir, k.APIVersion, k.Kind)
	}
	return &k, nil
}

// render is what `kustomize build dir` would give, for the features the
// manifests use; extra components are added as an overlay's `components` are.
// used collects every file a kustomization refers to.
func render(dir string, used map[string]bool, extra ...string) ([]*object, error) {
	k, err := readKustomization(dir)
	if err != nil {
		return nil, err
	}
	used[filepath.Join(dir, "kustomization.yaml")] = true
	var objs []*object
	for _, r := range k.Resources {
		p := filepath.Join(dir, r)
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("%s: resource %s: %w", dir, r, err)
		}
		if st.IsDir() {
			sub, err := readKustomization(p)
			if err != nil {
				return nil, err
			}
			if sub.Kind != "Kustomization" {
				return nil, fmt.Errorf("%s: resource %s is a %s", dir, r, sub.Kind)
			}
			o, err := render(p, used)
			if err != nil {
				return nil, err
			}
			objs = append(objs, o...)
			continue
		}
		used[p] = true
		o, err := decodeFile(p)
		if err != nil {
			return nil, err
		}
		objs = append(objs, o...)
	}
	for _, c := range append(append([]string{}, k.Components...), extra...) {
		p := c
		if !filepath.IsAbs(c) && !strings.HasPrefix(c, "components/") {
			p = filepath.Join(dir, c)
		}
		sub, err := readKustomization(p)
		if err != nil {
			return nil, fmt.Errorf("%s: component %s: %w", dir, c, err)
		}
		if sub.Kind != "Component" {
			return nil, fmt.Errorf("%s: component %s is a %s", dir, c, sub.Kind)
		}
		o, err := render(p, used)
		if err != nil {
			return nil, err
		}
		objs = append(objs, o...)
	}
	for _, g := range k.SecretGenerator {
		s := &corev1.Secret{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
			ObjectMeta: metav1.ObjectMeta{Name: g.Name, Namespace: g.Namespace},
			StringData: map[string]string{},
		}
		if g.Options == nil || !g.Options.DisableNameSuffixHash {
			return nil, fmt.Errorf("%s: secretGenerator %s: set options.disableNameSuffixHash (the tests do not rename references)", dir, g.Name)
		}
		for _, l := range g.Literals {
			key, val, ok := strings.Cut(l, "=")
			if !ok {
				return nil, fmt.Errorf("%s: secretGenerator %s: literal %q is not key=value", dir, g.Name, l)
			}
			s.StringData[key] = val
		}
		for _, f := range g.Files {
			key, file, ok := strings.Cut(f, "=")
			if !ok {
				key, file = filepath.Base(f), f
			}
			b, err := os.ReadFile(filepath.Join(dir, file))
			if err != nil {
				return nil, fmt.Errorf("%s: secretGenerator %s: %w", dir, g.Name, err)
			}
			used[filepath.Join(dir, file)] = true
			s.StringData[key] = string(b)
		}
		objs = append(objs, &object{file: dir + " secretGenerator", kind: "Secret", name: g.Name, namespace: g.Namespace, obj: s})
	}
	for _, p := range k.Patches {
		file := filepath.Join(dir, p.Path)
		used[file] = true
		patches, err := decodeFile(file)
		if err != nil {
			return nil, err
		}
		for _, patch := range patches {
			if err := applyPatch(objs, patch, file); err != nil {
				return nil, err
			}
		}
	}
	for _, img := range k.Images {
		for _, o := range objs {
			d, ok := o.obj.(*appsv1.Deployment)
			if !ok {
				continue
			}
			for i := range d.Spec.Template.Spec.Containers {
				c := &d.Spec.Template.Spec.Containers[i]
				name, _, _ := strings.Cut(c.Image, "@")
				if j := strings.LastIndex(name, ":"); j > strings.LastIndex(name, "/") {
					name = name[:j]
				}
				if name != img.Name {
					continue
				}
				if img.NewName != "" {
					name = img.NewName
				}
				switch {
				case img.Digest != "":
					c.Image = name + "@" + img.Digest
				case img.NewTag != "":
					c.Image = name + ":" + img.NewTag
				default:
					c.Image = name
				}
			}
		}
	}
	return objs, nil
}

// applyPatch merges a strategic-merge patch into the object of the same kind,
// name and namespace, as kustomize does for the built-in kinds.
func applyPatch(objs []*object, patch *object, file string) error {
	for _, o := range objs {
		if o.kind != patch.kind || o.name != patch.name || o.namespace != patch.namespace {
			continue
		}
		orig, err := json.Marshal(o.obj)
		if err != nil {
			return err
		}
		pj, err := yaml.YAMLToJSON(patch.raw)
		if err != nil {
			return err
		}
		schema := reflect.New(reflect.TypeOf(o.obj).Elem()).Interface()
		merged, err := strategicpatch.StrategicMergePatch(orig, pj, schema)
		if err != nil {
			return fmt.Errorf("%s: patch %s: %w", file, o, err)
		}
		fresh := reflect.New(reflect.TypeOf(o.obj).Elem()).Interface()
		if err := unmarshalStrict(merged, fresh); err != nil {
			return fmt.Errorf("%s: patched %s: %w", file, o, err)
		}
		o.obj = fresh
		o.file += " + " + file
		return nil
	}
	return fmt.Errorf("%s: the patch's %s/%s in %q matches no resource", file, patch.kind, patch.name, patch.namespace)
}

// manifestFiles lists every YAML file below this folder.
func manifestFiles() ([]string, error) {
	var files []string
	err := filepath.WalkDir(".", func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			files = append(files, p)
		}
		return nil
	})
	sort.Strings(files)
	return files, err
}

var docSep = regexp.MustCompile(`(?m)^---[ \t]*$`)
