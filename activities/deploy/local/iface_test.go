package local_test

import (
	"github.com/canaryflow/canaryflow/activities"
	"github.com/canaryflow/canaryflow/activities/deploy/local"
)

// The assertion lives in an external test package so that activities may
// one day import this package (a factory) without an import cycle.
var _ activities.Deployer = (*local.Deployer)(nil)
