// Package policies embeds the gateway's default Rego policy bundle: the
// data_gateway package that decides every request, and its tests.
package policies

import "embed"

// FS is the default bundle. It contains the folder data_gateway with the
// policy modules (*.rego) and their tests (*_test.rego).
//
//go:embed data_gateway
var FS embed.FS
