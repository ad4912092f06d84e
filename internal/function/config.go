package function

import (
	"context"

	"github.com/kelseyhightower/envconfig"
)

// ConfigFromEnv reads a function's configuration C from the environment with envconfig (no
// prefix: C's tags name the variables). Errors: a required variable unset, or a malformed one.
func ConfigFromEnv[C any]() (C, error) {
	var cfg C
	err := envconfig.Process("", &cfg)
	return cfg, err
}

// FromEnv builds a function from the environment: it reads its configuration (ConfigFromEnv)
// and hands it to open, the function's Open. It is the whole of each function's New, which is
// what knative/func and cmd/<name> call; tests call Open with a Config of their own.
func FromEnv[C, F any](ctx context.Context, open func(context.Context, C) (F, error)) (F, error) {
	cfg, err := ConfigFromEnv[C]()
	if err != nil {
		var none F
		return none, err
	}
	return open(ctx, cfg)
}
