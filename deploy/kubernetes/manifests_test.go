package kubernetes

import (
	"fmt"
	"math"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/fileconv/fileconv/internal/convert"
	"github.com/fileconv/fileconv/internal/master"
)

// The renders checked, each as `kubectl apply -k` would build it, with the
// Secrets that must exist beforehand (created with kubectl, never in git).
var renders = []struct {
	dir      string
	extra    []string // components added, as an overlay would
	external []string // Secrets the render uses but does not create
}{
	{dir: "base", external: []string{"fileconv-master-tls", "fileconv-tokens", "fileconv-worker-tls"}},
	{dir: "overlays/dev"},
	{dir: "overlays/prod", external: []string{"fileconv-tokens"}},
	{dir: "overlays/prod", extra: []string{"components/web"}, external: []string{"fileconv-tokens", "fileconv-web-token"}},
}

const (
	namespace = "fileconv"
	// coreDNSTTL is the TTL of CoreDNS's kubernetes plugin records (its default).
	coreDNSTTL = 5 * time.Second
	// Defaults of the binary for settings the manifests may leave out.
	defaultGrace     = 30 * time.Second
	defaultMaxPixels = 64_000_000
	// convert.DefaultMaxPDFMemory, the memory a PDF reader process may use.
	defaultMaxPDFMemory = 1 << 30
	// defaultMaxImageMemory is --max-image-memory's default: what a reader
	// process converting an image (or a PDF to pictures) may use.
	defaultMaxImageMemory = 2 << 30
	// A conversion holds about 4 bytes a pixel decoded and up to 3 encoded
	// (docs/operations.md, Sizing); a process needs some room of its own.
	bytesPerPixel = 7
	processBase   = 128 << 20
	// The master's buffer per client connection.
	connBuffer = 64 << 10
	// Measured in docs/operations.md (Engines beside the worker, and pools of
	// workers): a warm LibreOffice process is 230–241 MB resident idle;
	// Chromium with 2 tabs 360 MiB idle and 450–470 MiB after 100 documents.
	officeIdle        = 256 << 20
	browserPerTwoTabs = 512 << 20
	// --office-max-memory's default.
	defaultOfficeMaxMemory = 1 << 30
	// Chromium puts its files in /dev/shm only when it holds at least this
	// much, else in TMPDIR (internal/htmlpdf, shmUsable).
	chromiumShmFloor = 512 << 20
)

func TestEveryManifestDecodesStrictly(t *testing.T) {
	files, err := manifestFiles()
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 15 {
		t.Fatalf("found only %d manifest files: %v", len(files), files)
	}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			if filepath.Base(f) == "kustomization.yaml" {
				if _, err := readKustomization(filepath.Dir(f)); err != nil {
					t.Fatal(err)
				}
				return
			}
			objs, err := decodeFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range objs {
				if o.name == "" {
					t.Errorf("%s has no metadata.name", o)
				}
				if o.kind != "Namespace" && o.namespace != namespace {
					t.Errorf("%s: namespace %q, want %q (the worker's DNS name in FILECONV_WORKERS holds it)", o, o.namespace, namespace)
				}
			}
		})
	}
}

// The strictness the other tests rely on: a misspelt field must fail.
func TestDecodingIsStrict(t *testing.T) {
	for _, doc := range []string{
		"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  replica: 2\n",
		"apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec:\n  ports: [{port: 1, targetport: 2}]\n",
		"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  replicas: 2\n  replicas: 3\n",
		"apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: x}\nspec: {secretName: s, issuerRef: {name: i}, dnsName: [a]}\n",
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
	} {
		if _, err := decode("inline", []byte(doc)); err == nil {
			t.Errorf("decoded without an error:\n%s", doc)
		}
	}
}

// Every file is used by some render (except *.example.yaml), and every path a
// kustomization names exists (render fails otherwise).
func TestKustomizationsReferToEveryFile(t *testing.T) {
	used := map[string]bool{}
	for _, r := range renders {
		if _, err := render(r.dir, used, r.extra...); err != nil {
			t.Fatal(err)
		}
	}
	files, _ := manifestFiles()
	for _, f := range files {
		if !used[f] && !strings.HasSuffix(f, ".example.yaml") {
			t.Errorf("%s is in no kustomization", f)
		}
	}
}

func TestTokenSecretExampleDoesNotStartAMaster(t *testing.T) {
	objs, err := decodeFile("base/tokens-secret.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := objs[0].obj.(*corev1.Secret)
	if _, err := master.ParseTokens(strings.NewReader(s.StringData["tokens"])); err == nil {
		t.Error("the example's tokens parse: a master applied with it would accept a published token")
	}
}

// cluster is one render, indexed.
type cluster struct {
	t       *testing.T
	objs    []*object
	byKind  map[string][]*object
	secrets map[string]bool // Secrets the render creates (Secret objects, Certificates)
}

func renderCluster(t *testing.T, dir string, extra ...string) *cluster {
	t.Helper()
	objs, err := render(dir, map[string]bool{}, extra...)
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{t: t, objs: objs, byKind: map[string][]*object{}, secrets: map[string]bool{}}
	seen := map[string]string{}
	for _, o := range objs {
		id := o.kind + "/" + o.namespace + "/" + o.name
		if prev, ok := seen[id]; ok {
			t.Errorf("%s twice: %s and %s", id, prev, o.file)
		}
		seen[id] = o.file
		c.byKind[o.kind] = append(c.byKind[o.kind], o)
		switch v := o.obj.(type) {
		case *corev1.Secret:
			c.secrets[v.Name] = true
		case *certificate:
			c.secrets[v.Spec.SecretName] = true
		}
	}
	return c
}

func (c *cluster) deployments() []*appsv1.Deployment {
	var ds []*appsv1.Deployment
	for _, o := range c.byKind["Deployment"] {
		ds = append(ds, o.obj.(*appsv1.Deployment))
	}
	return ds
}

// deployment returns the Deployment of a component (worker, master, web).
func (c *cluster) deployment(component string) *appsv1.Deployment {
	for _, d := range c.deployments() {
		if d.Spec.Template.Labels["app.kubernetes.io/component"] == component {
			return d
		}
	}
	return nil
}

// workers returns the worker Deployments: one per pool.
func (c *cluster) workers() []*appsv1.Deployment {
	var ws []*appsv1.Deployment
	for _, d := range c.deployments() {
		if d.Spec.Template.Labels["app.kubernetes.io/component"] == "worker" {
			ws = append(ws, d)
		}
	}
	return ws
}

// selected returns the Deployments whose pods a selector selects.
func (c *cluster) selected(sel labels.Selector) []*appsv1.Deployment {
	var out []*appsv1.Deployment
	for _, d := range c.deployments() {
		if sel.Matches(labels.Set(d.Spec.Template.Labels)) {
			out = append(out, d)
		}
	}
	return out
}

func (c *cluster) selectedBy(what string, ls *metav1.LabelSelector) *appsv1.Deployment {
	c.t.Helper()
	ds := c.selectedAll(what, ls)
	if len(ds) > 1 {
		c.t.Errorf("%s selects %d Deployments' pods, want 1", what, len(ds))
	}
	if len(ds) != 1 {
		return nil
	}
	return ds[0]
}

// selectedAll returns every Deployment a selector selects the pods of, at least
// one: a Service or a NetworkPolicy may cover several (the worker pools).
func (c *cluster) selectedAll(what string, ls *metav1.LabelSelector) []*appsv1.Deployment {
	c.t.Helper()
	sel, err := metav1.LabelSelectorAsSelector(ls)
	if err != nil {
		c.t.Errorf("%s: %v", what, err)
		return nil
	}
	if sel.Empty() {
		c.t.Errorf("%s: empty selector", what)
		return nil
	}
	ds := c.selected(sel)
	if len(ds) == 0 {
		c.t.Errorf("%s selects no Deployment's pods", what)
	}
	return ds
}

func deploymentNames(ds []*appsv1.Deployment) []string {
	var n []string
	for _, d := range ds {
		n = append(n, d.Name)
	}
	slices.Sort(n)
	return n
}

func (c *cluster) service(name string) *corev1.Service {
	for _, o := range c.byKind["Service"] {
		if o.name == name {
			return o.obj.(*corev1.Service)
		}
	}
	return nil
}

func env(ctr *corev1.Container) map[string]string {
	m := map[string]string{}
	for _, e := range ctr.Env {
		m[e.Name] = e.Value
	}
	return m
}

// setting returns a container's value for a flag: from its args (--name=v or
// --name v), which win as on a command line, else from its environment.
func setting(ctr *corev1.Container, name string) (string, bool) {
	for i := 1; i < len(ctr.Args); i++ { // Args[0] is the subcommand
		a := ctr.Args[i]
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v, true
		}
		if a == "--"+name && i+1 < len(ctr.Args) {
			return ctr.Args[i+1], true
		}
	}
	v, ok := env(ctr)["FILECONV_"+strings.ToUpper(strings.ReplaceAll(name, "-", "_"))]
	return v, ok
}

// engines returns a worker's --engines as families; nil (unset or empty)
// means every family, as the binary reads it.
func engines(ctr *corev1.Container) []string {
	v, _ := setting(ctr, "engines")
	var fams []string
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f != "" {
			fams = append(fams, f)
		}
	}
	return fams
}

func runs(families []string, family string) bool {
	return families == nil || slices.Contains(families, family)
}

func containerPort(ctr *corev1.Container, p intstr.IntOrString) (int32, bool) {
	for _, cp := range ctr.Ports {
		if (p.Type == intstr.String && cp.Name == p.StrVal) || (p.Type == intstr.Int && cp.ContainerPort == p.IntVal) {
			return cp.ContainerPort, true
		}
	}
	return 0, false
}

func hostPort(t *testing.T, what, addr string) (string, int32) {
	t.Helper()
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Errorf("%s: %v", what, err)
		return "", 0
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Errorf("%s: port %q: %v", what, p, err)
	}
	return h, int32(n)
}

func duration(t *testing.T, what, v string, def time.Duration) time.Duration {
	t.Helper()
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		t.Errorf("%s: %v", what, err)
	}
	return d
}

// size parses the binary's size syntax: 1048576, 512KiB, 8MiB, 1GiB, 5MB.
func size(t *testing.T, what, v string, def int64) int64 {
	t.Helper()
	if v == "" {
		return def
	}
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		n      int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}} {
		if strings.HasSuffix(v, u.suffix) {
			v, mult = strings.TrimSuffix(v, u.suffix), u.n
			break
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		t.Errorf("%s: %v", what, err)
	}
	return n * mult
}

func forEachRender(t *testing.T, check func(t *testing.T, c *cluster)) {
	for _, r := range renders {
		name := strings.Join(append([]string{r.dir}, r.extra...), "+")
		t.Run(name, func(t *testing.T) { check(t, renderCluster(t, r.dir, r.extra...)) })
	}
}

func TestSelectorsMatchLabels(t *testing.T) {
	forEachRender(t, func(t *testing.T, c *cluster) {
		for _, d := range c.deployments() {
			if got := c.selectedBy("Deployment "+d.Name+" selector", d.Spec.Selector); got != nil && got != d {
				t.Errorf("Deployment %s's selector selects %s's pods", d.Name, got.Name)
			}
			for k, v := range d.Spec.Template.Labels {
				if d.Labels[k] != v {
					t.Errorf("Deployment %s: label %s=%s on its pods, not on itself", d.Name, k, v)
				}
			}
			spec := d.Spec.Template.Spec
			if a := spec.Affinity; a != nil && a.PodAntiAffinity != nil {
				for _, w := range a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
					if got := c.selectedBy("Deployment "+d.Name+" anti-affinity", w.PodAffinityTerm.LabelSelector); got != d {
						t.Errorf("Deployment %s: anti-affinity selects other pods than its own", d.Name)
					}
				}
			}
			for _, tsc := range spec.TopologySpreadConstraints {
				if got := c.selectedBy("Deployment "+d.Name+" topology spread", tsc.LabelSelector); got != d {
					t.Errorf("Deployment %s: topology spread selects other pods than its own", d.Name)
				}
			}
		}
		for _, o := range c.byKind["PodDisruptionBudget"] {
			c.selectedBy("PodDisruptionBudget "+o.name, o.obj.(*policyv1.PodDisruptionBudget).Spec.Selector)
		}
		covered := map[string]bool{}
		for _, o := range c.byKind["NetworkPolicy"] {
			np := o.obj.(*networkingv1.NetworkPolicy)
			ds := c.selectedAll("NetworkPolicy "+o.name, &np.Spec.PodSelector)
			for _, d := range ds {
				covered[d.Name] = true
			}
			for _, rule := range np.Spec.Ingress {
				for _, peer := range rule.From {
					if peer.PodSelector != nil {
						c.selectedBy("NetworkPolicy "+o.name+" peer", peer.PodSelector)
					}
				}
				for _, p := range rule.Ports {
					for _, d := range ds {
						if p.Port == nil {
							continue
						}
						if _, ok := containerPort(&d.Spec.Template.Spec.Containers[0], *p.Port); !ok {
							t.Errorf("NetworkPolicy %s: port %s is not a port of %s", o.name, p.Port.String(), d.Name)
						}
					}
				}
			}
		}
		for _, w := range c.workers() {
			if !covered[w.Name] {
				t.Errorf("no NetworkPolicy covers %s: its job port would be open to every pod", w.Name)
			}
		}
		for _, d := range []string{"master", "worker"} {
			if c.deployment(d) == nil {
				t.Errorf("no %s Deployment", d)
			}
		}
	})
}

func TestServicesReachContainerPorts(t *testing.T) {
	forEachRender(t, func(t *testing.T, c *cluster) {
		for _, o := range c.byKind["Service"] {
			svc := o.obj.(*corev1.Service)
			for _, d := range c.selectedAll("Service "+svc.Name, &metav1.LabelSelector{MatchLabels: svc.Spec.Selector}) {
				ctr := &d.Spec.Template.Spec.Containers[0]
				listen := env(ctr)["FILECONV_LISTEN"]
				_, listenPort := hostPort(t, d.Name+" FILECONV_LISTEN", listen)
				for _, p := range svc.Spec.Ports {
					n, ok := containerPort(ctr, p.TargetPort)
					if !ok {
						t.Errorf("Service %s port %s: targetPort %s is no port of %s", svc.Name, p.Name, p.TargetPort.String(), d.Name)
						continue
					}
					if n != listenPort {
						t.Errorf("Service %s port %s reaches container port %d; %s listens on %s", svc.Name, p.Name, n, d.Name, listen)
					}
				}
			}
		}
		for _, o := range c.byKind["Ingress"] {
			ing := o.obj.(*networkingv1.Ingress)
			for _, rule := range ing.Spec.Rules {
				for _, p := range rule.HTTP.Paths {
					b := p.Backend.Service
					svc := c.service(b.Name)
					if svc == nil {
						t.Errorf("Ingress %s: no Service %s", ing.Name, b.Name)
						continue
					}
					if !slices.ContainsFunc(svc.Spec.Ports, func(sp corev1.ServicePort) bool {
						return (b.Port.Name != "" && sp.Name == b.Port.Name) || (b.Port.Number != 0 && sp.Port == b.Port.Number)
					}) {
						t.Errorf("Ingress %s: Service %s has no port %v", ing.Name, b.Name, b.Port)
					}
				}
			}
		}
	})
}

// Containers use only flags and environment variables the binary accepts, the
// admin listener is reachable from outside the pod, probes and Prometheus use it.
func TestContainersMatchTheBinary(t *testing.T) {
	dockerUID := dockerfileUser(t)
	forEachRender(t, func(t *testing.T, c *cluster) {
		for _, d := range c.deployments() {
			spec := d.Spec.Template.Spec
			if len(spec.Containers) != 1 {
				t.Errorf("%s: %d containers, want 1", d.Name, len(spec.Containers))
				continue
			}
			ctr := &spec.Containers[0]
			what := d.Name + "/" + ctr.Name
			if want := poolImage(ctr); !strings.HasPrefix(ctr.Image, want+":") {
				t.Errorf("%s: image %q, want %s (the engines it runs)", what, ctr.Image, want)
			}
			if len(ctr.Command) != 0 || len(ctr.Args) == 0 {
				t.Errorf("%s: want the image's entrypoint and a subcommand as args[0], have command %q args %q", what, ctr.Command, ctr.Args)
				continue
			}
			command := ctr.Args[0]
			if command != d.Spec.Template.Labels["app.kubernetes.io/component"] {
				t.Errorf("%s: runs %q, labelled component %q", what, command, d.Spec.Template.Labels["app.kubernetes.io/component"])
			}
			flags := commandFlags(t, command)
			if len(flags) == 0 {
				t.Logf("%s: `fileconv %s --help` lists no flags (not built yet?): its flags are not checked", what, command)
			} else {
				envs := map[string]bool{}
				for _, e := range flags {
					envs[e] = true
				}
				if command == "master" {
					envs["FILECONV_TOKENS"] = true
				}
				for _, e := range ctr.Env {
					if strings.HasPrefix(e.Name, "FILECONV_") && !envs[e.Name] {
						t.Errorf("%s: %s is no setting of `fileconv %s`", what, e.Name, command)
					}
				}
				for _, a := range ctr.Args[1:] {
					if name, ok := strings.CutPrefix(a, "--"); ok {
						name, _, _ = strings.Cut(name, "=")
						if _, ok := flags[name]; !ok {
							t.Errorf("%s: --%s is no flag of `fileconv %s`", what, name, command)
						}
					}
				}
			}
			// A worker pool is what its engines make it: each names them, with
			// families the binary knows (it would refuse to start otherwise).
			if command == "worker" {
				if v, ok := setting(ctr, "engines"); !ok || len(engines(ctr)) == 0 {
					t.Errorf("%s: --engines (FILECONV_ENGINES) %q: name the pool's engines; without them a worker runs every engine its image holds, and the pools are alike", what, v)
				}
				for _, f := range engines(ctr) {
					if !slices.Contains(convert.Families, f) {
						t.Errorf("%s: --engines names %q; the binary's families are %v", what, f, convert.Families)
					}
				}
			}
			e := env(ctr)
			// Probes and Prometheus use the admin listener; a command without one
			// (web) is probed on its own listener and not scraped.
			probePort, probes := int32(0), map[string]string{"readiness": "/readyz", "liveness": "/healthz"}
			if _, hasAdmin := flags["admin"]; hasAdmin || len(flags) == 0 {
				adminHost, adminPort := hostPort(t, what+" FILECONV_ADMIN", e["FILECONV_ADMIN"])
				if adminHost != "0.0.0.0" && adminHost != "" {
					t.Errorf("%s: FILECONV_ADMIN %q: probes and Prometheus need it on every address", what, e["FILECONV_ADMIN"])
				}
				if n, ok := containerPort(ctr, intstr.FromString("admin")); !ok || n != adminPort {
					t.Errorf("%s: container port \"admin\" is %d, FILECONV_ADMIN %q", what, n, e["FILECONV_ADMIN"])
				}
				ann := d.Spec.Template.Annotations
				if ann["prometheus.io/scrape"] != "true" || ann["prometheus.io/port"] != strconv.Itoa(int(adminPort)) || ann["prometheus.io/path"] != "/metrics" {
					t.Errorf("%s: Prometheus annotations %v, want the admin port %d and /metrics", what, ann, adminPort)
				}
				probePort = adminPort
			} else {
				_, probePort = hostPort(t, what+" FILECONV_LISTEN", e["FILECONV_LISTEN"])
				probes = nil
				if _, ok := d.Spec.Template.Annotations["prometheus.io/scrape"]; ok {
					t.Errorf("%s: `fileconv %s` has no metrics listener to scrape", what, command)
				}
			}
			for name, probe := range map[string]*corev1.Probe{"readiness": ctr.ReadinessProbe, "liveness": ctr.LivenessProbe} {
				if probe == nil || probe.HTTPGet == nil {
					t.Errorf("%s: no HTTP %s probe", what, name)
					continue
				}
				if want, ok := probes[name]; ok && probe.HTTPGet.Path != want {
					t.Errorf("%s: %s probe path %q, want %q", what, name, probe.HTTPGet.Path, want)
				}
				if n, ok := containerPort(ctr, probe.HTTPGet.Port); !ok || n != probePort {
					t.Errorf("%s: %s probe on port %s, not %d", what, name, probe.HTTPGet.Port.String(), probePort)
				}
			}
			psc, sc := spec.SecurityContext, ctr.SecurityContext
			if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser != dockerUID {
				t.Errorf("%s: pod securityContext must run as non-root user %d (the image's USER)", what, dockerUID)
			}
			if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
				sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
				sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
				t.Errorf("%s: container securityContext must be read-only, without privilege escalation and capabilities", what)
			}
			for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				if _, ok := ctr.Resources.Requests[r]; !ok {
					t.Errorf("%s: no %s request", what, r)
				}
				if _, ok := ctr.Resources.Limits[r]; !ok {
					t.Errorf("%s: no %s limit", what, r)
				}
			}
			checkFiles(t, c, what, spec, ctr)
		}
	})
}

// checkFiles: every file a setting names lies in a mounted Secret that holds it,
// and every Secret mounted exists in the render or is one it expects beforehand.
func checkFiles(t *testing.T, c *cluster, what string, spec corev1.PodSpec, ctr *corev1.Container) {
	volumes := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = v
	}
	for _, m := range ctr.VolumeMounts {
		if _, ok := volumes[m.Name]; !ok {
			t.Errorf("%s: mounts undeclared volume %s", what, m.Name)
		}
	}
	for _, name := range []string{"FILECONV_CERT", "FILECONV_KEY", "FILECONV_CA", "FILECONV_TOKEN_FILE"} {
		path := env(ctr)[name]
		if path == "" {
			continue
		}
		found := false
		for _, m := range ctr.VolumeMounts {
			key, ok := strings.CutPrefix(path, m.MountPath+"/")
			if !ok {
				continue
			}
			v := volumes[m.Name]
			if v.Secret == nil {
				t.Errorf("%s: %s=%s is on volume %s, not a Secret", what, name, path, m.Name)
				break
			}
			found = true
			if len(v.Secret.Items) > 0 && !slices.ContainsFunc(v.Secret.Items, func(k corev1.KeyToPath) bool { return k.Path == key }) {
				t.Errorf("%s: %s=%s: Secret %s's items do not include %s", what, name, path, v.Secret.SecretName, key)
			}
			want := map[string][]string{"FILECONV_CERT": {"tls.crt"}, "FILECONV_KEY": {"tls.key"}, "FILECONV_CA": {"ca.crt"}, "FILECONV_TOKEN_FILE": {"tokens", "token"}}[name]
			if !slices.Contains(want, key) {
				t.Errorf("%s: %s=%s: key %s, want one of %v (cert-manager's and the token Secret's keys)", what, name, path, key, want)
			}
		}
		if !found {
			t.Errorf("%s: %s=%s is in no mounted volume", what, name, path)
		}
	}
}

func TestSecretsExistOrAreDocumentedAsExternal(t *testing.T) {
	for _, r := range renders {
		t.Run(strings.Join(append([]string{r.dir}, r.extra...), "+"), func(t *testing.T) {
			c := renderCluster(t, r.dir, r.extra...)
			var missing []string
			for _, d := range c.deployments() {
				for _, v := range d.Spec.Template.Spec.Volumes {
					if v.Secret != nil && !c.secrets[v.Secret.SecretName] && !slices.Contains(missing, v.Secret.SecretName) {
						missing = append(missing, v.Secret.SecretName)
					}
				}
			}
			for _, o := range c.byKind["Issuer"] {
				if ca := o.obj.(*issuer).Spec.CA; ca != nil && !c.secrets[ca.SecretName] {
					missing = append(missing, ca.SecretName)
				}
			}
			slices.Sort(missing)
			if !slices.Equal(missing, r.external) {
				t.Errorf("Secrets used and not created: %v, want %v", missing, r.external)
			}
		})
	}
}

// The masters find every worker pod of every pool through the one headless
// Service, and the workers' certificate names what the masters dial.
func TestWorkerDiscoveryAndCertificates(t *testing.T) {
	forEachRender(t, func(t *testing.T, c *cluster) {
		m, workers := c.deployment("master"), c.workers()
		if m == nil || len(workers) == 0 {
			t.Fatal("no master or worker Deployment")
		}
		me := env(&m.Spec.Template.Spec.Containers[0])
		entries := strings.Split(me["FILECONV_WORKERS"], ",")
		if len(entries) != 1 {
			t.Fatalf("FILECONV_WORKERS %q: want the headless Service's name", me["FILECONV_WORKERS"])
		}
		host, port := hostPort(t, "FILECONV_WORKERS", entries[0])
		svcName, ok := strings.CutSuffix(host, "."+namespace+".svc.cluster.local")
		if !ok {
			t.Fatalf("FILECONV_WORKERS host %q is not <service>.%s.svc.cluster.local", host, namespace)
		}
		svc := c.service(svcName)
		if svc == nil {
			t.Fatalf("FILECONV_WORKERS names Service %s, which does not exist", svcName)
		}
		if svc.Spec.ClusterIP != corev1.ClusterIPNone {
			t.Errorf("Service %s is not headless: its name would resolve to one virtual IP, not to every worker", svcName)
		}
		if svc.Spec.PublishNotReadyAddresses {
			t.Errorf("Service %s publishes not-ready addresses: draining workers would stay in DNS", svcName)
		}
		// Every pool behind the one name: the masters route by what each worker
		// announces, so a pool left out would get no job.
		if ds := c.selectedAll("Service "+svcName, &metav1.LabelSelector{MatchLabels: svc.Spec.Selector}); !slices.Equal(deploymentNames(ds), deploymentNames(workers)) {
			t.Errorf("Service %s selects %v, want every worker pool %v", svcName, deploymentNames(ds), deploymentNames(workers))
		}
		for _, w := range workers {
			_, workerListen := hostPort(t, w.Name+" FILECONV_LISTEN", env(&w.Spec.Template.Spec.Containers[0])["FILECONV_LISTEN"])
			if !slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Port == port }) || port != workerListen {
				t.Errorf("FILECONV_WORKERS port %d; Service %s ports %v; %s listens on %d", port, svcName, svc.Spec.Ports, w.Name, workerListen)
			}
		}
		var webMaster string
		if web := c.deployment("web"); web != nil {
			webMaster = env(&web.Spec.Template.Spec.Containers[0])["FILECONV_MASTER"]
			h, p := hostPort(t, "web FILECONV_MASTER", webMaster)
			ms := c.service(strings.TrimSuffix(h, "."+namespace+".svc.cluster.local"))
			if ms == nil || ms.Spec.Selector["app.kubernetes.io/component"] != "master" ||
				!slices.ContainsFunc(ms.Spec.Ports, func(sp corev1.ServicePort) bool { return sp.Port == p }) {
				t.Errorf("web FILECONV_MASTER %q is not the master Service's name and port", webMaster)
			}
		}
		if len(c.byKind["Certificate"]) == 0 {
			return
		}
		certFor := func(d *appsv1.Deployment) *certificate {
			for _, v := range d.Spec.Template.Spec.Volumes {
				if v.Secret == nil {
					continue
				}
				for _, o := range c.byKind["Certificate"] {
					if cert := o.obj.(*certificate); cert.Spec.SecretName == v.Secret.SecretName && v.Name == "tls" {
						return cert
					}
				}
			}
			t.Errorf("%s: no Certificate writes its tls Secret", d.Name)
			return nil
		}
		mc := certFor(m)
		if mc == nil {
			return
		}
		var wc *certificate
		for _, w := range workers {
			if wc = certFor(w); wc == nil {
				return
			}
			if !slices.Contains(wc.Spec.DNSNames, host) {
				t.Errorf("%s: Certificate %s's dnsNames %v lack %s, the name the masters dial and verify", w.Name, wc.Name, wc.Spec.DNSNames, host)
			}
			if !slices.Contains(wc.Spec.Usages, "server auth") {
				t.Errorf("%s: Certificate %s's usages %v lack server auth", w.Name, wc.Name, wc.Spec.Usages)
			}
		}
		if !slices.Contains(mc.Spec.Usages, "server auth") || !slices.Contains(mc.Spec.Usages, "client auth") {
			t.Errorf("master Certificate usages %v: the master presents it to clients (server auth) and to workers (client auth)", mc.Spec.Usages)
		}
		if ms := c.service("fileconv-master"); ms == nil || !slices.Contains(mc.Spec.DNSNames, ms.Name+"."+namespace+".svc.cluster.local") {
			t.Errorf("master Certificate dnsNames %v lack the master Service's name", mc.Spec.DNSNames)
		}
		if h, _, _ := strings.Cut(webMaster, ":"); webMaster != "" && !slices.Contains(mc.Spec.DNSNames, h) {
			t.Errorf("master Certificate dnsNames %v lack %s, the name the web tier dials", mc.Spec.DNSNames, h)
		}
		if wc.Spec.IssuerRef != mc.Spec.IssuerRef {
			t.Errorf("master and worker certificates from different issuers (%v, %v): both must trust one cluster CA", mc.Spec.IssuerRef, wc.Spec.IssuerRef)
		}
		var issuerNames []string
		for _, o := range c.byKind["Issuer"] {
			issuerNames = append(issuerNames, o.name)
		}
		for _, o := range c.byKind["Certificate"] {
			if ref := o.obj.(*certificate).Spec.IssuerRef; ref.Kind == "Issuer" && !slices.Contains(issuerNames, ref.Name) {
				t.Errorf("Certificate %s: no Issuer %s", o.name, ref.Name)
			}
		}
	})
}

// preStopSleep returns the seconds of a preStop `sleep N`.
func preStopSleep(t *testing.T, what string, ctr *corev1.Container) time.Duration {
	t.Helper()
	if ctr.Lifecycle == nil || ctr.Lifecycle.PreStop == nil {
		t.Errorf("%s: no preStop hook: the Service would still send connections to a closed port", what)
		return 0
	}
	if s := ctr.Lifecycle.PreStop.Sleep; s != nil {
		return time.Duration(s.Seconds) * time.Second
	}
	if ex := ctr.Lifecycle.PreStop.Exec; ex != nil && len(ex.Command) == 2 && ex.Command[0] == "sleep" {
		n, err := strconv.Atoi(ex.Command[1])
		if err == nil {
			return time.Duration(n) * time.Second
		}
	}
	t.Errorf("%s: preStop is not a sleep", what)
	return 0
}

// A terminating pod leaves DNS and Services before it stops accepting, and has
// its grace period to finish jobs before the kubelet kills it.
func TestGracefulTermination(t *testing.T) {
	forEachRender(t, func(t *testing.T, c *cluster) {
		resolve := 10 * time.Second
		if m := c.deployment("master"); m != nil {
			resolve = duration(t, "FILECONV_RESOLVE_INTERVAL", env(&m.Spec.Template.Spec.Containers[0])["FILECONV_RESOLVE_INTERVAL"], 10*time.Second)
		}
		for _, d := range c.deployments() {
			ctr := &d.Spec.Template.Spec.Containers[0]
			e := env(ctr)
			sleep := preStopSleep(t, d.Name, ctr)
			grace := duration(t, d.Name+" FILECONV_GRACE", e["FILECONV_GRACE"], defaultGrace)
			var tgps time.Duration = 30 * time.Second
			if p := d.Spec.Template.Spec.TerminationGracePeriodSeconds; p != nil {
				tgps = time.Duration(*p) * time.Second
			}
			if tgps <= sleep+grace {
				t.Errorf("%s: terminationGracePeriodSeconds %v ≤ preStop %v + --grace %v: jobs would be killed", d.Name, tgps, sleep, grace)
			}
			if jt, ok := e["FILECONV_JOB_TIMEOUT"]; ok && grace < duration(t, d.Name+" FILECONV_JOB_TIMEOUT", jt, 0) {
				t.Errorf("%s: --grace %v is shorter than --job-timeout %s: a job admitted before SIGTERM may be cut", d.Name, grace, jt)
			}
			if rp := ctr.ReadinessProbe; rp != nil && time.Duration(rp.PeriodSeconds*rp.FailureThreshold)*time.Second > sleep {
				t.Errorf("%s: readiness takes up to %ds to fail, longer than the preStop sleep %v", d.Name, rp.PeriodSeconds*rp.FailureThreshold, sleep)
			}
			if d.Spec.Strategy.RollingUpdate == nil || d.Spec.Strategy.RollingUpdate.MaxUnavailable == nil || d.Spec.Strategy.RollingUpdate.MaxUnavailable.IntValue() != 0 {
				t.Errorf("%s: rolling updates should add a new pod before taking one away (maxUnavailable: 0)", d.Name)
			}
			if d.Spec.Template.Labels["app.kubernetes.io/component"] == "worker" && sleep < resolve+coreDNSTTL {
				t.Errorf("worker preStop sleep %v < the masters' FILECONV_RESOLVE_INTERVAL %v + DNS TTL %v: masters may dial a worker that stopped accepting", sleep, resolve, coreDNSTTL)
			}
		}
	})
}

// Each worker pool has its own autoscaler and disruption budget: pools differ
// in what they convert and in their size, so one must not scale or drain the
// other.
func TestAutoscalerAndDisruptionBudgets(t *testing.T) {
	forEachRender(t, func(t *testing.T, c *cluster) {
		hpas := c.byKind["HorizontalPodAutoscaler"]
		targeted := map[string]int{}
		for _, o := range hpas {
			hpa := o.obj.(*autoscalingv2.HorizontalPodAutoscaler)
			ref := hpa.Spec.ScaleTargetRef
			if ref.APIVersion != "apps/v1" || ref.Kind != "Deployment" || !slices.Contains(deploymentNames(c.workers()), ref.Name) {
				t.Errorf("HPA %s targets %v, want a worker Deployment", hpa.Name, ref)
			}
			targeted[ref.Name]++
			if hpa.Spec.MinReplicas == nil || *hpa.Spec.MinReplicas < 1 || *hpa.Spec.MinReplicas > hpa.Spec.MaxReplicas {
				t.Errorf("HPA %s replicas %v..%d", hpa.Name, hpa.Spec.MinReplicas, hpa.Spec.MaxReplicas)
			}
			if len(hpa.Spec.Metrics) != 1 || hpa.Spec.Metrics[0].Resource == nil || hpa.Spec.Metrics[0].Resource.Name != corev1.ResourceCPU ||
				hpa.Spec.Metrics[0].Resource.Target.Type != autoscalingv2.UtilizationMetricType {
				t.Errorf("HPA %s metrics %+v: want CPU utilization", hpa.Name, hpa.Spec.Metrics)
			}
		}
		for _, w := range c.workers() {
			if targeted[w.Name] != 1 {
				t.Errorf("%s: %d HorizontalPodAutoscalers, want 1", w.Name, targeted[w.Name])
			}
			if w.Spec.Replicas != nil {
				t.Errorf("%s sets replicas: each apply would undo the autoscaler's count", w.Name)
			}
		}
		pdbs := map[string]bool{}
		for _, o := range c.byKind["PodDisruptionBudget"] {
			pdb := o.obj.(*policyv1.PodDisruptionBudget)
			if d := c.selectedBy("PodDisruptionBudget "+pdb.Name, pdb.Spec.Selector); d != nil {
				pdbs[d.Name] = true
				if pdb.Spec.MinAvailable != nil && d.Spec.Replicas != nil && pdb.Spec.MinAvailable.IntValue() >= int(*d.Spec.Replicas) {
					t.Errorf("PodDisruptionBudget %s: minAvailable %s blocks every node drain with %d replicas", pdb.Name, pdb.Spec.MinAvailable.String(), *d.Spec.Replicas)
				}
			}
		}
		for _, d := range append(c.workers(), c.deployment("master")) {
			if d != nil && !pdbs[d.Name] {
				t.Errorf("no PodDisruptionBudget for %s", d.Name)
			}
		}
		dev := slices.ContainsFunc(hpas, func(o *object) bool { return strings.Contains(o.file, "dev") })
		if m := c.deployment("master"); m != nil && m.Spec.Replicas != nil && *m.Spec.Replicas < 2 && !dev {
			t.Errorf("%d master replicas: several stand behind the Service outside development", *m.Spec.Replicas)
		}
	})
}

// Memory limits hold what the settings let a process hold (docs/operations.md,
// Capacity planning), for each worker pool with the engines it runs, and each
// worker's concurrency, LibreOffice processes and Chromium tabs match its cores.
func TestResourcesFitTheSettings(t *testing.T) {
	forEachRender(t, func(t *testing.T, c *cluster) {
		m := c.deployment("master")
		mc := &m.Spec.Template.Spec.Containers[0]
		me := env(mc)
		masters := int64(1)
		if m.Spec.Replicas != nil {
			masters = int64(*m.Spec.Replicas)
		}
		mBody := size(t, "master FILECONV_MAX_BODY", me["FILECONV_MAX_BODY"], 256<<20)
		for _, w := range c.workers() {
			checkWorkerResources(t, w, masters, mBody)
		}
		if web := c.deployment("web"); web != nil {
			ctr := &web.Spec.Template.Spec.Containers[0]
			e := env(ctr)
			if b := size(t, "web FILECONV_MAX_BODY", e["FILECONV_MAX_BODY"], 64<<20); b > mBody {
				t.Errorf("web accepts %d-byte files, the masters only %d", b, mBody)
			}
			need := size(t, "web FILECONV_MAX_MEMORY", e["FILECONV_MAX_MEMORY"], 256<<20) + processBase
			if limit := ctr.Resources.Limits[corev1.ResourceMemory]; limit.Cmp(*resource.NewQuantity(need, resource.BinarySI)) < 0 {
				t.Errorf("web memory limit %s < %d MiB (FILECONV_MAX_MEMORY and the process)", limit.String(), need>>20)
			}
		}
		conns := size(t, "FILECONV_MAX_CONNS", me["FILECONV_MAX_CONNS"], 1024)
		retry := size(t, "FILECONV_RETRY_BUFFER_TOTAL", me["FILECONV_RETRY_BUFFER_TOTAL"], 256<<20)
		mneed := conns*connBuffer + retry + processBase
		if limit := mc.Resources.Limits[corev1.ResourceMemory]; limit.Cmp(*resource.NewQuantity(mneed, resource.BinarySI)) < 0 {
			t.Errorf("master memory limit %s < %d MiB (%d connections × 64 KiB + %d MiB retry buffers)", limit.String(), mneed>>20, conns, retry>>20)
		}
	})
}

// checkWorkerResources checks one worker pool's CPU and memory against its
// settings and the engines it runs.
func checkWorkerResources(t *testing.T, w *appsv1.Deployment, masters, mBody int64) {
	t.Helper()
	wc := &w.Spec.Template.Spec.Containers[0]
	we := func(flag string) string { v, _ := setting(wc, flag); return v }
	cpu := wc.Resources.Requests[corev1.ResourceCPU]
	cores := int64(math.Ceil(cpu.AsApproximateFloat64()))
	// Settings whose default is the node's core count (runtime.NumCPU), not
	// the pod's share: they must be set, and no higher than the cores.
	perCore := func(flag string) int64 {
		n, err := strconv.ParseInt(we(flag), 10, 64)
		if err != nil || n < 1 {
			t.Errorf("%s: --%s %q: set it (the default is the node's cores, not the pod's)", w.Name, flag, we(flag))
			return 1
		}
		if n > cores {
			t.Errorf("%s: --%s %d > %d requested cores", w.Name, flag, n, cores)
		}
		return n
	}
	conc := perCore("concurrency")
	families := engines(wc)
	wBody := size(t, w.Name+" FILECONV_MAX_BODY", we("max-body"), 256<<20)
	if mBody > wBody {
		t.Errorf("master accepts %d-byte files, %s only %d", mBody, w.Name, wBody)
	}
	pixels := size(t, w.Name+" FILECONV_MAX_PIXELS", we("max-pixels"), defaultMaxPixels)
	pdfMemory := size(t, w.Name+" FILECONV_MAX_PDF_MEMORY", we("max-pdf-memory"), defaultMaxPDFMemory)
	// A reader process converting an image or a PDF's pages may grow to
	// --max-image-memory: a 1,750-page PDF to PNG pages reached 2 GiB in a
	// container (docs/operations.md).
	imageMemory := size(t, w.Name+" FILECONV_MAX_IMAGE_MEMORY", we("max-image-memory"), defaultMaxImageMemory)
	// Each master sends a worker up to its capacity (the concurrency); the
	// jobs waiting for a slot hold their bodies too. A slot converts an image
	// in libvips, a PDF in its reader process or, on a pool that runs
	// LibreOffice, a document in a process that is replaced when it ends above
	// --office-max-memory.
	slot := max(pixels*bytesPerPixel, pdfMemory, imageMemory)
	need := masters*conc*wBody + processBase
	terms := []string{fmt.Sprintf("%d masters × %d jobs × %d MiB bodies", masters, conc, wBody>>20)}
	if runs(families, "office") {
		procs := perCore("office-processes")
		officeMax := size(t, w.Name+" FILECONV_OFFICE_MAX_MEMORY", we("office-max-memory"), defaultOfficeMaxMemory)
		slot = max(slot, officeMax)
		need += procs * officeIdle
		terms = append(terms, fmt.Sprintf("%d idle LibreOffice processes", procs))
	}
	if runs(families, "html") {
		tabs := perCore("browser-tabs")
		need += (tabs + 1) / 2 * browserPerTwoTabs
		terms = append(terms, fmt.Sprintf("Chromium with %d tabs", tabs))
	}
	need += conc * slot
	terms = append(terms, fmt.Sprintf("%d conversions of %d MiB", conc, slot>>20))
	if mem := memoryVolumes(t, w); mem > 0 {
		need += mem
		terms = append(terms, fmt.Sprintf("%d MiB of memory-backed volumes", mem>>20))
	}
	if limit := wc.Resources.Limits[corev1.ResourceMemory]; limit.Cmp(*resource.NewQuantity(need, resource.BinarySI)) < 0 {
		t.Errorf("%s: memory limit %s < %d MiB (%s, and the process)", w.Name, limit.String(), need>>20, strings.Join(terms, " + "))
	} else {
		t.Logf("%s: needs %d MiB of %s", w.Name, need>>20, limit.String())
	}
}

// memoryVolumes sums the size limits of the memory-backed emptyDirs a
// Deployment's container mounts: what is written there is charged to the
// container's memory.
func memoryVolumes(t *testing.T, d *appsv1.Deployment) int64 {
	t.Helper()
	mounted := map[string]bool{}
	for _, m := range d.Spec.Template.Spec.Containers[0].VolumeMounts {
		mounted[m.Name] = true
	}
	var sum int64
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.EmptyDir == nil || v.EmptyDir.Medium != corev1.StorageMediumMemory || !mounted[v.Name] {
			continue
		}
		if v.EmptyDir.SizeLimit == nil {
			t.Errorf("%s: memory-backed volume %s has no sizeLimit: what is written there could take the whole memory limit", d.Name, v.Name)
			continue
		}
		sum += v.EmptyDir.SizeLimit.Value()
	}
	return sum
}

// At least two worker pools: one without LibreOffice and Chromium (images and
// PDFs, in little memory) and one with both; together they run every family
// of engines, so every conversion has workers. A pool with LibreOffice or
// Chromium gives them a memory-backed /dev/shm (LibreOffice refuses a work
// folder off tmpfs, and a container's own is 64 MB) large enough for Chromium
// to use it, and a writable TMPDIR under its read-only root.
func TestWorkerPools(t *testing.T) {
	forEachRender(t, func(t *testing.T, c *cluster) {
		var small, full bool
		ran := map[string]bool{}
		for _, w := range c.workers() {
			spec := w.Spec.Template.Spec
			ctr := &spec.Containers[0]
			fams := engines(ctr)
			for _, f := range convert.Families {
				ran[f] = ran[f] || runs(fams, f)
			}
			office, html := runs(fams, "office"), runs(fams, "html")
			small = small || !office && !html
			full = full || office && html
			for _, s := range []struct{ flag, family string }{
				{"office-processes", "office"}, {"office-recycle", "office"}, {"office-max-memory", "office"},
				{"browser-tabs", "html"}, {"javascript", "html"},
			} {
				if _, ok := setting(ctr, s.flag); ok && !runs(fams, s.family) {
					t.Errorf("%s sets --%s but runs no %s engine (--engines %s)", w.Name, s.flag, s.family, strings.Join(fams, ","))
				}
			}
			if !office && !html {
				continue
			}
			volumes := map[string]corev1.Volume{}
			for _, v := range spec.Volumes {
				volumes[v.Name] = v
			}
			mountedAt := func(path string) (corev1.Volume, bool) {
				for _, m := range ctr.VolumeMounts {
					if m.MountPath == path && !m.ReadOnly {
						v, ok := volumes[m.Name]
						return v, ok
					}
				}
				return corev1.Volume{}, false
			}
			shm, ok := mountedAt("/dev/shm")
			switch {
			case !ok:
				t.Errorf("%s runs LibreOffice or Chromium without a /dev/shm volume: the container's is 64 MB", w.Name)
			case shm.EmptyDir == nil || shm.EmptyDir.Medium != corev1.StorageMediumMemory:
				t.Errorf("%s: /dev/shm is not a memory-backed emptyDir: LibreOffice refuses a work folder off tmpfs", w.Name)
			case html && (shm.EmptyDir.SizeLimit == nil || shm.EmptyDir.SizeLimit.Value() < chromiumShmFloor):
				t.Errorf("%s: /dev/shm sizeLimit %v: under %d MiB Chromium writes its files to TMPDIR instead", w.Name, shm.EmptyDir.SizeLimit, chromiumShmFloor>>20)
			}
			if sc := ctr.SecurityContext; sc != nil && sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem {
				if tmp, ok := mountedAt("/tmp"); !ok || tmp.EmptyDir == nil {
					t.Errorf("%s: read-only root without a writable /tmp for the engines", w.Name)
				}
			}
		}
		if !small {
			t.Error("no worker pool without LibreOffice and Chromium: image and PDF workers would carry their memory")
		}
		if !full {
			t.Error("no worker pool runs both LibreOffice and Chromium (--engines office,html)")
		}
		for _, f := range convert.Families {
			if !ran[f] {
				t.Errorf("no worker pool runs the %s engines: their conversions would have no worker", f)
			}
		}
	})
}

func TestNamespaceObject(t *testing.T) {
	c := renderCluster(t, "base")
	if ns := c.byKind["Namespace"]; len(ns) != 1 || ns[0].name != namespace {
		t.Errorf("want one Namespace %s, have %v", namespace, ns)
	}
}

// poolImage is the image a container must run: the full one (LibreOffice,
// Chromium, Tesseract's model) for a worker whose --engines include an engine
// only it holds, else the small one.
func poolImage(ctr *corev1.Container) string {
	for _, e := range ctr.Env {
		if e.Name != "FILECONV_ENGINES" {
			continue
		}
		for _, engine := range strings.Split(e.Value, ",") {
			if engine == "office" || engine == "html" || engine == "ocr" {
				return "ghcr.io/fileconv/fileconv-full"
			}
		}
	}
	return "ghcr.io/fileconv/fileconv-small"
}
