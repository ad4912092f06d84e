package manifests

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GVKKafkaUser is Strimzi's KafkaUser. No CRD of it is among the test CRDs, so it is decoded
// strictly into KafkaUser, the subset of its schema this project writes: any other field is an
// error, and Validate checks the values Strimzi's schema enumerates.
var GVKKafkaUser = schema.GroupVersionKind{Group: "kafka.strimzi.io", Version: "v1beta2", Kind: "KafkaUser"}

// KafkaUser is a Kafka principal with SCRAM credentials and simple ACLs (kafka.strimzi.io).
type KafkaUser struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              KafkaUserSpec `json:"spec"`
}

// KafkaUserSpec is how the user logs in and what it may do.
type KafkaUserSpec struct {
	Authentication KafkaUserAuthentication `json:"authentication"`
	Authorization  KafkaUserAuthorization  `json:"authorization"`
}

// KafkaUserAuthentication is SCRAM with the password taken from a Secret of the user's namespace.
type KafkaUserAuthentication struct {
	Type     string `json:"type"`
	Password *struct {
		ValueFrom struct {
			SecretKeyRef struct {
				Name string `json:"name"`
				Key  string `json:"key"`
			} `json:"secretKeyRef"`
		} `json:"valueFrom"`
	} `json:"password,omitempty"`
}

// KafkaUserAuthorization is Strimzi's simple authorization: a list of ALLOW rules.
type KafkaUserAuthorization struct {
	Type string         `json:"type"`
	ACLs []KafkaUserACL `json:"acls"`
}

// KafkaUserACL allows operations on one resource (a topic or group name, or a prefix of names).
type KafkaUserACL struct {
	Resource struct {
		Type        string `json:"type"`
		Name        string `json:"name,omitempty"`
		PatternType string `json:"patternType,omitempty"`
	} `json:"resource"`
	Operations []string `json:"operations"`
	Host       string   `json:"host,omitempty"`
}

// Values of Strimzi's KafkaUser schema.
var (
	kafkaUserAuthTypes     = []string{"scram-sha-512", "tls", "tls-external"}
	kafkaUserResourceTypes = []string{"topic", "group", "cluster", "transactionalId"}
	kafkaUserPatternTypes  = []string{"", "literal", "prefix"}
	kafkaUserOperations    = []string{"Read", "Write", "Create", "Delete", "Alter", "Describe", "ClusterAction",
		"AlterConfigs", "DescribeConfigs", "IdempotentWrite", "All"}
)

// Validate checks the values Strimzi's schema would: the authentication and resource types,
// pattern types and operations, a name for every topic and group, a password reference when
// SCRAM takes one. It returns every problem joined.
func (u *KafkaUser) Validate() error {
	var errs []error
	a := u.Spec.Authentication
	if !slices.Contains(kafkaUserAuthTypes, a.Type) {
		errs = append(errs, fmt.Errorf("spec.authentication.type %q: want one of %v", a.Type, kafkaUserAuthTypes))
	}
	if p := a.Password; p != nil && (p.ValueFrom.SecretKeyRef.Name == "" || p.ValueFrom.SecretKeyRef.Key == "") {
		errs = append(errs, errors.New("spec.authentication.password.valueFrom.secretKeyRef needs a name and a key"))
	}
	if u.Spec.Authorization.Type != "simple" {
		errs = append(errs, fmt.Errorf("spec.authorization.type %q: want simple", u.Spec.Authorization.Type))
	}
	for i, acl := range u.Spec.Authorization.ACLs {
		r := acl.Resource
		if !slices.Contains(kafkaUserResourceTypes, r.Type) {
			errs = append(errs, fmt.Errorf("acls[%d].resource.type %q: want one of %v", i, r.Type, kafkaUserResourceTypes))
		}
		if r.Type != "cluster" && r.Name == "" {
			errs = append(errs, fmt.Errorf("acls[%d].resource.name is required for a %s", i, r.Type))
		}
		if !slices.Contains(kafkaUserPatternTypes, r.PatternType) {
			errs = append(errs, fmt.Errorf("acls[%d].resource.patternType %q: want literal or prefix", i, r.PatternType))
		}
		if len(acl.Operations) == 0 {
			errs = append(errs, fmt.Errorf("acls[%d].operations is empty", i))
		}
		for _, op := range acl.Operations {
			if !slices.Contains(kafkaUserOperations, op) {
				errs = append(errs, fmt.Errorf("acls[%d].operations: %q is not one of %v", i, op, kafkaUserOperations))
			}
		}
	}
	return errors.Join(errs...)
}

// Allows reports whether u may do op on the topic or group (resourceType) named name, by its
// ACLs as Kafka reads them: a literal name or a prefix; All allows every operation, and Read,
// Write, Delete and Alter imply Describe.
func (u *KafkaUser) Allows(resourceType, name, op string) bool {
	for _, acl := range u.Spec.Authorization.ACLs {
		r := acl.Resource
		if r.Type != resourceType {
			continue
		}
		if r.PatternType == "prefix" && !strings.HasPrefix(name, r.Name) || r.PatternType != "prefix" && r.Name != name && r.Name != "*" {
			continue
		}
		for _, o := range acl.Operations {
			if o == op || o == "All" || op == "Describe" && slices.Contains([]string{"Read", "Write", "Delete", "Alter"}, o) {
				return true
			}
		}
	}
	return false
}
