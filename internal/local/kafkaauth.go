package local

import (
	"context"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha512"
	"fmt"
	"path/filepath"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ordersaga/ordersaga/internal/kafka"
)

// The embedded broker's principals: one per writer or reader, as the cluster's KafkaUsers
// (config/15-kafka-users.yaml). Each gets a SCRAM-SHA-512 password from the data folder's
// credentials file and only the ACLs of kafkaACLs.
const (
	principalOrder  = "order"          // the order function's outbox: writes the source topic
	principalSource = "kafka-source"   // the KafkaSource: reads the source topic as its group
	principalBroker = "knative-broker" // the Broker's ingress and Trigger dispatchers: its own topic
	principalCLI    = kafka.LocalCLIUser
	// principalConsole is the gateway's web console: reads the broker topic, writes nothing.
	principalConsole = "console"
	// principalAdmin is the stack's own provisioning connection, the broker's only superuser. It
	// is PLAIN because the embedded broker keeps the users it was given on disk and reloads them
	// over those of its options, except PLAIN ones when it stored none: so a data folder from
	// before authentication (or one whose users were lost) still lets the stack in to create them.
	principalAdmin = "ordersaga-admin"
)

// kafkaPrincipals are the principals the credentials file holds.
var kafkaPrincipals = []string{principalOrder, principalSource, principalBroker, principalCLI, principalConsole, principalAdmin}

// grant is one ALLOW ACL: operation on a topic or group (a name, or a prefix when prefixed).
type grant struct {
	principal string
	resource  kmsg.ACLResourceType
	name      string
	prefixed  bool
	op        kmsg.ACLOperation
}

// kafkaACLs is everything anyone but the superuser may do: the least each principal needs. Read
// and Write imply Describe (metadata, offsets); Write on a topic also lets a client be an
// idempotent producer. No principal but the order function (and the admin CLI) may write the
// source topic, none but the Broker (and the admin CLI) its topic, and the anonymous user nothing.
func kafkaACLs(source *sourceTopics, brokerTopic, triggerGroupPrefix string) []grant {
	var gs []grant
	for _, t := range source.topics {
		gs = append(gs,
			grant{principalOrder, kmsg.ACLResourceTypeTopic, t, false, kmsg.ACLOperationWrite},
			grant{principalSource, kmsg.ACLResourceTypeTopic, t, false, kmsg.ACLOperationRead},
			grant{principalCLI, kmsg.ACLResourceTypeTopic, t, false, kmsg.ACLOperationRead},
			grant{principalCLI, kmsg.ACLResourceTypeTopic, t, false, kmsg.ACLOperationWrite},
		)
	}
	return append(gs,
		grant{principalSource, kmsg.ACLResourceTypeGroup, source.group, false, kmsg.ACLOperationRead},
		grant{principalBroker, kmsg.ACLResourceTypeTopic, brokerTopic, false, kmsg.ACLOperationRead},
		grant{principalBroker, kmsg.ACLResourceTypeTopic, brokerTopic, false, kmsg.ACLOperationWrite},
		grant{principalBroker, kmsg.ACLResourceTypeGroup, triggerGroupPrefix, true, kmsg.ACLOperationRead},
		grant{principalCLI, kmsg.ACLResourceTypeTopic, brokerTopic, false, kmsg.ACLOperationRead},
		grant{principalCLI, kmsg.ACLResourceTypeTopic, brokerTopic, false, kmsg.ACLOperationWrite},
		grant{principalConsole, kmsg.ACLResourceTypeTopic, brokerTopic, false, kmsg.ACLOperationRead},
	)
}

// sourceTopics is what the KafkaSource reads: its topics as its consumer group.
type sourceTopics struct {
	topics []string
	group  string
}

// kafkaAuth is the embedded broker's authentication: the credentials and the ACLs to enforce.
type kafkaAuth struct {
	creds kafka.Credentials
	acls  []grant
}

// loadKafkaAuth reads (or creates, on the first start) the data folder's credentials file.
func loadKafkaAuth(dataDir string, acls []grant) (*kafkaAuth, error) {
	creds, err := kafka.EnsureCredentials(filepath.Join(dataDir, kafka.CredentialsFile), kafkaPrincipals...)
	if err != nil {
		return nil, fmt.Errorf("kafka credentials: %w", err)
	}
	return &kafkaAuth{creds: creds, acls: acls}, nil
}

// options make kfake require SASL from every client and check every request against its ACLs,
// with the admin as the only superuser.
func (a *kafkaAuth) options() []kfake.Opt {
	return []kfake.Opt{
		kfake.EnableSASL(),
		kfake.EnableACLs(),
		kfake.Superuser(kafka.Plain, principalAdmin, a.creds.Users[principalAdmin]),
	}
}

// config is how principal reaches brokers.
func (a *kafkaAuth) config(brokers []string, principal string) kafka.Config {
	c, err := a.creds.Config(brokers, principal)
	if err != nil {
		panic(err) // kafkaPrincipals are all in the file: EnsureCredentials saw to it
	}
	if principal == principalAdmin {
		c.Mechanism = kafka.Plain
	}
	return c
}

// provision makes the running broker's users and ACLs exactly those of a, whatever it reloaded
// from disk: the principals' SCRAM credentials are set (a changed password takes effect), every
// ACL is dropped and a's are created. It returns an error when the admin cannot log in (the
// broker's stored superuser is not the credentials file's) or the broker refuses a change.
func (a *kafkaAuth) provision(ctx context.Context, brokers []string) error {
	client, err := a.config(brokers, principalAdmin).NewClient()
	if err != nil {
		return err
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()

	scram := kmsg.NewPtrAlterUserSCRAMCredentialsRequest()
	for _, user := range kafkaPrincipals {
		if user == principalAdmin {
			continue
		}
		u, err := scramUpsertion(user, a.creds.Users[user])
		if err != nil {
			return err
		}
		scram.Upsertions = append(scram.Upsertions, u)
	}
	resp, err := scram.RequestWith(ctx, client)
	if err != nil {
		return staleAuth(err)
	}
	for _, r := range resp.Results {
		if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
			return fmt.Errorf("kafka user %s: %w", r.User, err)
		}
	}

	del := kmsg.NewPtrDeleteACLsRequest()
	all := kmsg.NewDeleteACLsRequestFilter()
	all.ResourceType, all.ResourcePatternType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny
	all.Operation, all.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
	del.Filters = append(del.Filters, all)
	dresp, err := del.RequestWith(ctx, client)
	if err != nil {
		return fmt.Errorf("drop old kafka ACLs: %w", err)
	}
	for _, r := range dresp.Results {
		if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
			return fmt.Errorf("drop old kafka ACLs: %w", err)
		}
	}

	create := kmsg.NewPtrCreateACLsRequest()
	for _, g := range a.acls {
		c := kmsg.NewCreateACLsRequestCreation()
		c.Principal, c.Host = "User:"+g.principal, "*"
		c.ResourceType, c.ResourceName = g.resource, g.name
		c.ResourcePatternType = kmsg.ACLResourcePatternTypeLiteral
		if g.prefixed {
			c.ResourcePatternType = kmsg.ACLResourcePatternTypePrefixed
		}
		c.Operation, c.PermissionType = g.op, kmsg.ACLPermissionTypeAllow
		create.Creations = append(create.Creations, c)
	}
	cresp, err := create.RequestWith(ctx, client)
	if err != nil {
		return fmt.Errorf("create kafka ACLs: %w", err)
	}
	for i, r := range cresp.Results {
		if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
			return fmt.Errorf("create kafka ACL %+v: %w", a.acls[i], err)
		}
	}
	return nil
}

// scramUpsertion is user's SCRAM-SHA-512 credential: the client salts and hashes the password
// (RFC 5802's SaltedPassword), the broker never sees it.
func scramUpsertion(user, password string) (kmsg.AlterUserSCRAMCredentialsRequestUpsertion, error) {
	// Kafka's minimum, and the only count the embedded broker works with: its server-first
	// message always announces 4096, whatever the credential was salted with.
	const iterations = 4096
	u := kmsg.NewAlterUserSCRAMCredentialsRequestUpsertion()
	u.Name, u.Mechanism, u.Iterations = user, 2, iterations // 2: SCRAM-SHA-512
	u.Salt = make([]byte, 32)
	_, _ = rand.Read(u.Salt) // never fails (crypto/rand)
	key, err := pbkdf2.Key(sha512.New, password, u.Salt, iterations, sha512.Size)
	if err != nil {
		return u, err
	}
	u.SaltedPassword = key
	return u, nil
}

// staleAuth explains why the admin's first request fails on a broker that just started on this
// machine: it cannot log in, because the broker's data folder keeps another superuser than the
// credentials file's. (The embedded broker closes the connection of a failed login, so the client
// sees EOF and retries until ctx ends rather than an authentication error.)
func staleAuth(err error) error {
	return fmt.Errorf("embedded Kafka: the stack's admin cannot log in (%v): its data folder keeps "+
		"credentials other than those of %s (was that file deleted?); remove the kafka folder next to it "+
		"to start the embedded broker afresh", err, kafka.CredentialsFile)
}
