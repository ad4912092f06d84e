// Command user runs the user function: sign-up, login and access tokens.
package main

import (
	"context"

	"github.com/ordersaga/ordersaga/functions/user"
	"github.com/ordersaga/ordersaga/internal/function"
)

func main() {
	function.Main("user", func(ctx context.Context) (function.Function, error) { return user.New(ctx) })
}
