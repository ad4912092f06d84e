// Command ordersaga-smoke checks the REST contract against a running stack: `make smoke`.
//
//	ordersaga-smoke [BASE_URL]   (default http://127.0.0.1:8080; admin from ORDERSAGA_ADMIN_*)
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/ordersaga/ordersaga/internal/smoke"
)

func main() {
	cfg := smoke.Config{BaseURL: "http://127.0.0.1:8080", AdminEmail: "admin@example.com", AdminPassword: "admin-password-123"}
	if len(os.Args) > 1 {
		cfg.BaseURL = os.Args[1]
	}
	if v := os.Getenv("ORDERSAGA_ADMIN_EMAIL"); v != "" {
		cfg.AdminEmail = v
	}
	if v := os.Getenv("ORDERSAGA_ADMIN_PASSWORD"); v != "" {
		cfg.AdminPassword = v
	}
	problems, err := smoke.Run(context.Background(), cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ordersaga-smoke:", err)
		os.Exit(2)
	}
	for _, p := range problems {
		fmt.Println("problem:", p)
	}
	if len(problems) > 0 {
		fmt.Printf("contract smoke: %d problems\n", len(problems))
		os.Exit(1)
	}
	fmt.Println("contract smoke: ok")
}
