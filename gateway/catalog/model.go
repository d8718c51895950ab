// Package catalog holds the public-data catalogue: the consumers who may call
// the gateway, the resources that providers expose through it, the approved
// applications (grants) that open conditional and on-application resources to
// named consumers, and the three credit lists that bar an applicant.
package catalog

import "time"

// Consumer kinds. The first two take part in sharing between government
// bodies; the last three are the public, to whom data is opened.
const (
	KindGovernmentDepartment = "government_department"
	KindPublicServiceOrg     = "public_service_org"
	KindNaturalPerson        = "natural_person"
	KindLegalPerson          = "legal_person"
	KindUnincorporatedOrg    = "unincorporated_org"
)

// Share attributes: how a resource may be shared between government bodies.
const (
	ShareUnconditional = "unconditional"
	ShareConditional   = "conditional"
	ShareNotShared     = "not_shared"
)

// Open attributes: how a resource may be opened to the public.
const (
	OpenOpen          = "open"
	OpenOnApplication = "on_application"
	OpenNotOpen       = "not_open"
)

// Grant kinds: a share application (between government bodies) or an open
// application (from the public).
const (
	GrantShare = "share"
	GrantOpen  = "open"
)

// Credit list names, as they appear in the catalogue and in policy input.
const (
	ListDishonestDebtor   = "dishonest_debtor"
	ListAbnormalOperation = "abnormal_operation"
	ListSeriousDishonest  = "serious_dishonest"
)

// File is the catalogue as it is written on disk (JSON).
type File struct {
	Consumers []Consumer `json:"consumers"`
	// Providers are the departments that register resources, and the
	// operators who manage the registry. A catalogue without providers is
	// valid, but then no resource's provider is checked against them.
	Providers   []Provider  `json:"providers,omitempty"`
	Resources   []Resource  `json:"resources"`
	Grants      []Grant     `json:"grants"`
	CreditLists CreditLists `json:"credit_lists"`
}

// Consumer is a caller of the gateway: a government department, a public
// service organisation, or a member of the public with an account.
type Consumer struct {
	ID   string `json:"id"`
	Kind string `json:"kind"`
	// Org is the organisation's name; for a natural person, the person's
	// display name or an empty string.
	Org string `json:"org"`
	// CreditCode is the unified social credit code (GB 32100) of the
	// organisation; empty for a natural person.
	CreditCode string `json:"credit_code,omitempty"`
	// APIKeySHA256 is the lowercase hex SHA-256 of the consumer's API key.
	// The key itself is never stored. API keys are random 128-bit or longer
	// secrets, so an unsalted fast hash is enough to make a leaked catalogue
	// useless for calling the gateway.
	APIKeySHA256 string `json:"api_key_sha256,omitempty"`
	// CertSHA256 is the lowercase hex SHA-256 of the consumer's mTLS client
	// certificate (DER), the second way to authenticate.
	CertSHA256 string `json:"cert_sha256,omitempty"`
	// Platform marks a cross-department platform, which some conditional
	// resources are limited to.
	Platform bool `json:"platform,omitempty"`
}

// Provider roles. A provider is a department that registers its own
// resources; an operator runs the platform and manages consumers,
// providers and credit lists.
const (
	RoleProvider = "provider"
	RoleOperator = "operator"
)

// Provider is a department that exposes resources through the gateway, or
// an operator of the platform, with the credential it uses on the registry
// API.
type Provider struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	// Role is RoleProvider or RoleOperator.
	Role string `json:"role"`
	// APIKeySHA256 is the lowercase hex SHA-256 of the provider's API key,
	// as for a consumer. No consumer or other provider may use the same key.
	APIKeySHA256 string `json:"api_key_sha256"`
}

// Resource is one provider interface exposed through the gateway.
type Resource struct {
	ID string `json:"id"`
	// Provider is the id of the providing department. When the catalogue
	// lists providers, it must name one whose role is RoleProvider.
	Provider string `json:"provider"`
	Name     string `json:"name,omitempty"`
	// PathPrefix is the request path prefix the resource serves, starting
	// and ending with "/", such as "/api/population/persons/".
	PathPrefix string `json:"path_prefix"`
	// Upstream is the provider's base address, "http://host:port" or
	// "https://host:port". The cleaned request path is sent unchanged.
	Upstream string `json:"upstream"`
	Share    string `json:"share"`
	Open     string `json:"open"`
	// Conditions limit a conditional resource; set only when Share is
	// conditional.
	Conditions *Conditions `json:"conditions,omitempty"`
	// OpenConditions limit an on-application resource.
	OpenConditions *OpenConditions `json:"open_conditions,omitempty"`
	// LegalBasis is the law or policy that forbids sharing (required when
	// Share is not_shared), quoted in every refusal.
	LegalBasis string `json:"legal_basis,omitempty"`
	// Subject locates where the request names the person or organisation
	// queried, so the gateway can check its check character and record it
	// (as a keyed hash) in the audit trail.
	Subject *Subject `json:"subject,omitempty"`
	// Fields lists the JSON paths of the response that hold personal data
	// and their field class.
	Fields []Field `json:"fields,omitempty"`
	// Emergency marks data collected for one emergency: it may be used only
	// for that emergency's scenario and only while the emergency lasts.
	Emergency *Emergency `json:"emergency,omitempty"`
}

// Conditions are the share conditions a provider sets on a conditional
// resource. An empty list places no limit of that kind.
type Conditions struct {
	// Scenarios the data may be used for.
	Scenarios []string `json:"scenarios,omitempty"`
	// Orgs are the consumer ids of the organisations that may apply.
	Orgs []string `json:"orgs,omitempty"`
	// KeyWork limits the resource to grants approved for the city's key work.
	KeyWork bool `json:"key_work,omitempty"`
	// Platform limits the resource to cross-department platforms.
	Platform bool `json:"platform,omitempty"`
}

// OpenConditions are the conditions a provider sets on an on-application
// resource.
type OpenConditions struct {
	AllowedScenarios   []string `json:"allowed_scenarios,omitempty"`
	ForbiddenScenarios []string `json:"forbidden_scenarios,omitempty"`
	// CreditCheck refuses applicants on any credit list. It defaults to true
	// when OpenConditions is absent or the field is omitted.
	CreditCheck *bool `json:"credit_check,omitempty"`
	// Attribution is the source statement results must cite; it is returned
	// in the decision's obligations and the X-Data-Source header.
	Attribution string `json:"attribution,omitempty"`
}

// Subject locates the queried subject's identifier in the request.
type Subject struct {
	// In is "path" (the first segment after PathPrefix) or "query".
	In string `json:"in"`
	// Name is the query parameter name when In is "query".
	Name string `json:"name,omitempty"`
	// Kind is "id_number" (GB 11643) or "credit_code" (GB 32100).
	Kind string `json:"kind"`
}

// Field is one JSON path of a response that holds personal data.
type Field struct {
	// Path is a gjson path limited to keys, "#" (every array element),
	// array indexes and the key wildcards "*" and "?".
	Path string `json:"path"`
	// Class is the field class: id_number, phone, name, address, bank_card,
	// email, credit_code, or another lowercase word the policy handles.
	Class string `json:"class"`
}

// Emergency describes the emergency a resource's data was collected for.
type Emergency struct {
	Event    string    `json:"event"`
	Scenario string    `json:"scenario"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
}

// Grant is an approved share or open application.
type Grant struct {
	ID       string `json:"id"`
	Kind     string `json:"kind"`
	Consumer string `json:"consumer"`
	Resource string `json:"resource"`
	Scenario string `json:"scenario"`
	// Fields is the approved data scope as gjson paths; empty means every
	// field of the response.
	Fields     []string  `json:"fields,omitempty"`
	ValidFrom  time.Time `json:"valid_from"`
	ValidUntil time.Time `json:"valid_until"`
	Purpose    string    `json:"purpose,omitempty"`
	// KeyWork marks a share grant approved for the city's key work.
	KeyWork bool `json:"key_work,omitempty"`
	// Masks overrides the policy's mask strategy per field class, for
	// example "hash" on id_number so a consumer can join records. The policy
	// never lets an override open a personal field in clear to the public.
	Masks map[string]string `json:"masks,omitempty"`
	Quota *Quota            `json:"quota,omitempty"`
}

// Quota bounds the calls a grant allows; zero means no bound.
type Quota struct {
	PerDay    int `json:"per_day,omitempty"`
	PerMinute int `json:"per_minute,omitempty"`
}

// CreditLists are the credit codes on each list that bars an applicant from
// on-application resources.
type CreditLists struct {
	DishonestDebtor   []string `json:"dishonest_debtor,omitempty"`
	AbnormalOperation []string `json:"abnormal_operation,omitempty"`
	SeriousDishonest  []string `json:"serious_dishonest,omitempty"`
}

// CreditState is a consumer's standing on each credit list.
type CreditState struct {
	DishonestDebtor   bool
	AbnormalOperation bool
	SeriousDishonest  bool
}
