package rules

// Allowed values of the ECS event fields (ECS 9.5.0-dev, ecs_flat.yml).
// A test checks these tables against the schema file.

var ecsKinds = []string{"alert", "asset", "enrichment", "event", "metric", "state", "pipeline_error", "signal"}

var ecsOutcomes = []string{"failure", "success", "unknown"}

// ecsCategories maps each event.category to its expected event.type values.
var ecsCategories = map[string][]string{
	"api":                 {"access", "admin", "allowed", "change", "creation", "deletion", "denied", "end", "info", "start", "user"},
	"authentication":      {"start", "end", "info"},
	"configuration":       {"access", "change", "creation", "deletion", "info"},
	"database":            {"access", "change", "info", "error"},
	"driver":              {"change", "end", "info", "start"},
	"email":               {"info"},
	"file":                {"access", "change", "creation", "deletion", "info"},
	"host":                {"access", "change", "end", "info", "start"},
	"iam":                 {"admin", "change", "creation", "deletion", "group", "info", "user"},
	"intrusion_detection": {"allowed", "denied", "info"},
	"library":             {"start"},
	"malware":             {"info"},
	"network":             {"access", "allowed", "connection", "denied", "end", "info", "protocol", "start"},
	"package":             {"access", "change", "deletion", "info", "installation", "start"},
	"process":             {"access", "change", "end", "info", "start"},
	"registry":            {"access", "change", "creation", "deletion"},
	"session":             {"start", "end", "info"},
	"threat":              {"indicator"},
	"vulnerability":       {"info"},
	"web":                 {"access", "error", "info"},
}

var ecsTypes = []string{"access", "admin", "allowed", "change", "connection", "creation", "deletion", "denied", "device", "end", "error", "group", "indicator", "info", "installation", "protocol", "start", "user"}
