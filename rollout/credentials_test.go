package rollout

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// urlFields sets each spec field that holds a URL, with what else the field
// needs to be valid; where is what its refusal must say about where
// credentials go instead.
var urlFields = []struct {
	path, where string
	set         func(s *Spec, v string)
}{
	{"traffic.local.adminURL", "the local router's admin API takes none", func(s *Spec, v string) {
		s.Traffic.Kind, s.Traffic.Local = "local", &LocalTraffic{AdminURL: v}
	}},
	{"metrics.prometheus.address", "give them to the worker — --prometheus-url / PROMETHEUS_URL", func(s *Spec, v string) {
		s.Metrics = Metrics{Kind: "prometheus", Prometheus: &PrometheusMetrics{Address: v, Metric: DefaultMetric}}
	}},
	{"smoke.baseURL", "smoke tests send none", func(s *Spec, v string) {
		s.Smoke = Smoke{BaseURL: v}.withDefaults()
	}},
	{"smoke.canaryURL", "smoke tests send none", func(s *Spec, v string) {
		s.Smoke = Smoke{CanaryURL: v, StableURL: "http://stable:8080"}.withDefaults()
	}},
	{"smoke.stableURL", "smoke tests send none", func(s *Spec, v string) {
		s.Smoke = Smoke{CanaryURL: "http://canary:8080", StableURL: v}.withDefaults()
	}},
}

func specWith(set func(*Spec, string), v string) Spec {
	s := validSpec().WithDefaults()
	set(&s, v)
	return s
}

func TestURLsWithoutCredentialsAreAllowed(t *testing.T) {
	for _, f := range urlFields {
		for _, v := range []string{
			"http://h:8080",
			"https://h/prefix/",
			"http://h:8080/?env=prod&limit=1",
			"http://h/?keyword=a&monkey=b&author=c&design=d&keys=e", // names that merely contain a short word
			"http://h/?debug",
			"http://h/#",
			"http://h/?",
		} {
			assert.NoError(t, specWith(f.set, v).Validate(), "%s = %s", f.path, v)
		}
	}
}

func TestURLsWithCredentialsAreRefused(t *testing.T) {
	for _, f := range urlFields {
		for v, found := range map[string]string{
			"http://admin:hunter2@h:8080":             "found user:password@",
			"http://:hunter2@h:8080":                  "found user:password@",
			"http://admin:@h:8080":                    "found user:password@",
			"http://hunter2@h:8080":                   "found a user name (user@)",
			"http://@h:8080":                          "found a user name (user@)",
			"http://h/?token=hunter2":                 `found query parameter "token"`,
			"http://h/?env=1&Access_Token=hunter2":    `found query parameter "Access_Token"`,
			"http://h/?API-KEY=hunter2":               `found query parameter "API-KEY"`,
			"http://h/?apikey=hunter2":                `found query parameter "apikey"`,
			"http://h/?key=hunter2":                   `found query parameter "key"`,
			"http://h/?password=hunter2":              `found query parameter "password"`,
			"http://h/?client_secret=hunter2":         `found query parameter "client_secret"`,
			"http://h/?sig=hunter2":                   `found query parameter "sig"`,
			"http://h/?X-Amz-Signature=hunter2":       `found query parameter "X-Amz-Signature"`,
			"http://h/?AUTH=hunter2":                  `found query parameter "AUTH"`,
			"http://h/?to%6Ben=hunter2":               `found query parameter "token"`,
			"http://h/?a=1;token=hunter2":             `found query parameter "token"`,
			"http://h/?token":                         `found query parameter "token"`,
			"http://h/#hunter2":                       "found a #fragment",
			"https://admin:hunter2@h/?token=hunter2x": "found user:password@",
		} {
			err := specWith(f.set, v).Validate()
			require.Error(t, err, "%s = %s", f.path, v)
			msg := err.Error()
			assert.Contains(t, msg, f.path+": must not carry credentials (the spec is stored in the rollout's history), "+found, v)
			assert.Contains(t, msg, f.where, v)
			assert.NotContains(t, msg, "hunter2", "the secret is not quoted back: %s", v)
		}
	}
}

func TestBothUserAndTokenAreReported(t *testing.T) {
	err := specWith(urlFields[0].set, "http://admin:hunter2@h/?token=hunter2&sig=x").Validate()
	var v *ValidationError
	require.ErrorAs(t, err, &v)
	assert.Len(t, v.Problems, 3, "%v", err)
}

func TestSmokePathsWithCredentialsAreRefused(t *testing.T) {
	paths := map[string]func(*Spec, string){
		"smoke.healthPath": func(s *Spec, v string) {
			s.Smoke = Smoke{BaseURL: "http://shop", HealthPath: v}.withDefaults()
		},
		"smoke.endpoints[1]": func(s *Spec, v string) {
			s.Smoke = Smoke{BaseURL: "http://shop", Endpoints: []string{"/api/users", v}}.withDefaults()
		},
	}
	for path, set := range paths {
		for _, v := range []string{"/health", "/health?verbose=1&monkey=2", "/health#"} {
			assert.NoError(t, specWith(set, v).Validate(), "%s = %s", path, v)
		}
		for v, found := range map[string]string{
			"/health?token=hunter2":       `found query parameter "token"`,
			"/health?x=1&ApiKey=hunter2":  `found query parameter "ApiKey"`,
			"/health#hunter2":             "found a #fragment",
			"/health?signature=hunter2#x": `found query parameter "signature"`,
		} {
			err := specWith(set, v).Validate()
			require.Error(t, err, "%s = %s", path, v)
			assert.Contains(t, err.Error(), path+": must not carry credentials (the spec is stored in the rollout's history), "+found)
			assert.Contains(t, err.Error(), "smoke tests send none")
			assert.NotContains(t, err.Error(), "hunter2")
		}
		err := specWith(set, "health?token=hunter2").Validate()
		require.Error(t, err)
		assert.Contains(t, err.Error(), path+": must start with '/'")
		assert.NotContains(t, err.Error(), "hunter2", "a bad path is quoted back redacted")
	}
}

func TestParseRefusesCredentialsInTheSpec(t *testing.T) {
	yaml := `
version: canaryflow/v1
app: shop
namespace: prod
stable: {version: v1}
canary: {version: v2}
deploy: {kind: memory}
traffic: {kind: memory}
metrics:
  kind: prometheus
  prometheus: {address: "http://promuser:hunter2@prometheus:9090"}
smoke: {baseURL: "https://shop.example.com/?access_token=hunter2"}
`
	_, err := Parse([]byte(yaml))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "metrics.prometheus.address: must not carry credentials")
	assert.Contains(t, err.Error(), `smoke.baseURL: must not carry credentials (the spec is stored in the rollout's history), found query parameter "access_token"`)
	assert.NotContains(t, err.Error(), "hunter2")

	_, err = Parse([]byte(strings.NewReplacer("promuser:hunter2@", "", "access_token=hunter2", "env=prod").Replace(yaml)))
	assert.NoError(t, err, "the same spec without credentials is valid")
}
