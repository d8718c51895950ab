package policy

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/citydata/datagateway/gateway/catalog"
)

// maxCachedTerms bounds the input terms an engine keeps. Each catalogue
// reload brings new entries, so the cache is emptied when it reaches the
// bound instead of growing with every reload.
const maxCachedTerms = 16384

// Keys of the input document, built once and shared by every request.
var (
	keyConsumer = ast.StringTerm("consumer")
	keyResource = ast.StringTerm("resource")
	keyGrant    = ast.StringTerm("grant")
	keyRequest  = ast.StringTerm("request")
	keyCredit   = ast.StringTerm("credit")
	keyNow      = ast.StringTerm("now")

	keyID         = ast.StringTerm("id")
	keyKind       = ast.StringTerm("kind")
	keyOrg        = ast.StringTerm("org")
	keyCreditCode = ast.StringTerm("credit_code")
	keyPlatform   = ast.StringTerm("platform")

	keyProvider       = ast.StringTerm("provider")
	keyName           = ast.StringTerm("name")
	keyShare          = ast.StringTerm("share")
	keyOpen           = ast.StringTerm("open")
	keyLegalBasis     = ast.StringTerm("legal_basis")
	keyConditions     = ast.StringTerm("conditions")
	keyOpenConditions = ast.StringTerm("open_conditions")
	keyFields         = ast.StringTerm("fields")
	keyEmergency      = ast.StringTerm("emergency")

	keyScenarios          = ast.StringTerm("scenarios")
	keyOrgs               = ast.StringTerm("orgs")
	keyKeyWork            = ast.StringTerm("key_work")
	keyAllowedScenarios   = ast.StringTerm("allowed_scenarios")
	keyForbiddenScenarios = ast.StringTerm("forbidden_scenarios")
	keyCreditCheck        = ast.StringTerm("credit_check")
	keyAttribution        = ast.StringTerm("attribution")
	keyPath               = ast.StringTerm("path")
	keyClass              = ast.StringTerm("class")
	keyEvent              = ast.StringTerm("event")
	keyScenario           = ast.StringTerm("scenario")
	keyStart              = ast.StringTerm("start")
	keyEnd                = ast.StringTerm("end")

	keyValidFrom  = ast.StringTerm("valid_from")
	keyValidUntil = ast.StringTerm("valid_until")
	keyPurpose    = ast.StringTerm("purpose")
	keyMasks      = ast.StringTerm("masks")
	keyQuota      = ast.StringTerm("quota")
	keyPerDay     = ast.StringTerm("per_day")
	keyPerMinute  = ast.StringTerm("per_minute")

	keyMethod   = ast.StringTerm("method")
	keyQuery    = ast.StringTerm("query")
	keyClientIP = ast.StringTerm("client_ip")

	keyDishonestDebtor   = ast.StringTerm(catalog.ListDishonestDebtor)
	keyAbnormalOperation = ast.StringTerm(catalog.ListAbnormalOperation)
	keySeriousDishonest  = ast.StringTerm(catalog.ListSeriousDishonest)
)

// creditTerms contains the eight possible credit objects, indexed by
// creditIndex.
var creditTerms = func() [8]*ast.Term {
	var terms [8]*ast.Term
	for i := range terms {
		terms[i] = ast.ObjectTerm(
			ast.Item(keyDishonestDebtor, ast.BooleanTerm(i&1 != 0)),
			ast.Item(keyAbnormalOperation, ast.BooleanTerm(i&2 != 0)),
			ast.Item(keySeriousDishonest, ast.BooleanTerm(i&4 != 0)),
		)
	}
	return terms
}()

func creditIndex(credit catalog.CreditState) int {
	index := 0
	if credit.DishonestDebtor {
		index |= 1
	}
	if credit.AbnormalOperation {
		index |= 2
	}
	if credit.SeriousDishonest {
		index |= 4
	}
	return index
}

// inputValue builds the input document of one request. Only the request
// object and the time are new; the rest comes from the cache.
func (e *Engine) inputValue(in *Input) ast.Value {
	grant := ast.NullTerm()
	if in.Grant != nil {
		grant = cachedTerm(e.terms, &e.terms.grants, in.Grant, grantTerm)
	}
	return ast.NewObject(
		ast.Item(keyConsumer, cachedTerm(e.terms, &e.terms.consumers, in.Consumer, consumerTerm)),
		ast.Item(keyResource, cachedTerm(e.terms, &e.terms.resources, in.Resource, resourceTerm)),
		ast.Item(keyGrant, grant),
		ast.Item(keyRequest, requestTerm(&in.Request)),
		ast.Item(keyCredit, creditTerms[creditIndex(in.Credit)]),
		ast.Item(keyNow, timeTerm(in.Now)),
	)
}

func requestTerm(request *Request) *ast.Term {
	return ast.ObjectTerm(
		ast.Item(keyMethod, ast.StringTerm(request.Method)),
		ast.Item(keyPath, ast.StringTerm(request.Path)),
		ast.Item(keyQuery, ast.StringTerm(request.Query)),
		ast.Item(keyScenario, ast.StringTerm(request.Scenario)),
		ast.Item(keyClientIP, ast.StringTerm(request.ClientIP)),
	)
}

func consumerTerm(consumer *catalog.Consumer) *ast.Term {
	return ast.ObjectTerm(
		ast.Item(keyID, ast.StringTerm(consumer.ID)),
		ast.Item(keyKind, ast.StringTerm(consumer.Kind)),
		ast.Item(keyOrg, ast.StringTerm(consumer.Org)),
		ast.Item(keyCreditCode, ast.StringTerm(consumer.CreditCode)),
		ast.Item(keyPlatform, ast.BooleanTerm(consumer.Platform)),
	)
}

func resourceTerm(resource *catalog.Resource) *ast.Term {
	return ast.ObjectTerm(
		ast.Item(keyID, ast.StringTerm(resource.ID)),
		ast.Item(keyProvider, ast.StringTerm(resource.Provider)),
		ast.Item(keyName, ast.StringTerm(resource.Name)),
		ast.Item(keyShare, ast.StringTerm(resource.Share)),
		ast.Item(keyOpen, ast.StringTerm(resource.Open)),
		ast.Item(keyLegalBasis, ast.StringTerm(resource.LegalBasis)),
		ast.Item(keyConditions, conditionsTerm(resource.Conditions)),
		ast.Item(keyOpenConditions, openConditionsTerm(resource.OpenConditions)),
		ast.Item(keyFields, fieldsTerm(resource.Fields)),
		ast.Item(keyEmergency, emergencyTerm(resource.Emergency)),
	)
}

func conditionsTerm(conditions *catalog.Conditions) *ast.Term {
	if conditions == nil {
		return ast.NullTerm()
	}
	return ast.ObjectTerm(
		ast.Item(keyScenarios, stringsTerm(conditions.Scenarios)),
		ast.Item(keyOrgs, stringsTerm(conditions.Orgs)),
		ast.Item(keyKeyWork, ast.BooleanTerm(conditions.KeyWork)),
		ast.Item(keyPlatform, ast.BooleanTerm(conditions.Platform)),
	)
}

// openConditionsTerm passes an unset credit_check as null: the policy
// decides what an unset check means.
func openConditionsTerm(conditions *catalog.OpenConditions) *ast.Term {
	if conditions == nil {
		return ast.NullTerm()
	}
	creditCheck := ast.NullTerm()
	if conditions.CreditCheck != nil {
		creditCheck = ast.BooleanTerm(*conditions.CreditCheck)
	}
	return ast.ObjectTerm(
		ast.Item(keyAllowedScenarios, stringsTerm(conditions.AllowedScenarios)),
		ast.Item(keyForbiddenScenarios, stringsTerm(conditions.ForbiddenScenarios)),
		ast.Item(keyCreditCheck, creditCheck),
		ast.Item(keyAttribution, ast.StringTerm(conditions.Attribution)),
	)
}

func fieldsTerm(fields []catalog.Field) *ast.Term {
	terms := make([]*ast.Term, len(fields))
	for i, field := range fields {
		terms[i] = ast.ObjectTerm(
			ast.Item(keyPath, ast.StringTerm(field.Path)),
			ast.Item(keyClass, ast.StringTerm(field.Class)),
		)
	}
	return ast.ArrayTerm(terms...)
}

func emergencyTerm(emergency *catalog.Emergency) *ast.Term {
	if emergency == nil {
		return ast.NullTerm()
	}
	return ast.ObjectTerm(
		ast.Item(keyEvent, ast.StringTerm(emergency.Event)),
		ast.Item(keyScenario, ast.StringTerm(emergency.Scenario)),
		ast.Item(keyStart, timeTerm(emergency.Start)),
		ast.Item(keyEnd, timeTerm(emergency.End)),
	)
}

func grantTerm(grant *catalog.Grant) *ast.Term {
	masks := ast.NewObjectWithCapacity(len(grant.Masks))
	for class, strategy := range grant.Masks {
		masks.Insert(ast.StringTerm(class), ast.StringTerm(strategy))
	}
	quota := ast.NullTerm()
	if grant.Quota != nil {
		quota = ast.ObjectTerm(
			ast.Item(keyPerDay, ast.IntNumberTerm(grant.Quota.PerDay)),
			ast.Item(keyPerMinute, ast.IntNumberTerm(grant.Quota.PerMinute)),
		)
	}
	return ast.ObjectTerm(
		ast.Item(keyID, ast.StringTerm(grant.ID)),
		ast.Item(keyKind, ast.StringTerm(grant.Kind)),
		ast.Item(keyScenario, ast.StringTerm(grant.Scenario)),
		ast.Item(keyFields, stringsTerm(grant.Fields)),
		ast.Item(keyValidFrom, timeTerm(grant.ValidFrom)),
		ast.Item(keyValidUntil, timeTerm(grant.ValidUntil)),
		ast.Item(keyKeyWork, ast.BooleanTerm(grant.KeyWork)),
		ast.Item(keyPurpose, ast.StringTerm(grant.Purpose)),
		ast.Item(keyMasks, ast.NewTerm(masks)),
		ast.Item(keyQuota, quota),
	)
}

func stringsTerm(values []string) *ast.Term {
	terms := make([]*ast.Term, len(values))
	for i, value := range values {
		terms[i] = ast.StringTerm(value)
	}
	return ast.ArrayTerm(terms...)
}

// timeTerm formats t as RFC 3339 with nanoseconds, the form the policy's
// time.parse_rfc3339_ns reads.
func timeTerm(t time.Time) *ast.Term {
	return ast.StringTerm(t.Format(time.RFC3339Nano))
}

// termCache keeps the input terms of catalogue entries by pointer. The
// terms are never modified after they are built, so concurrent
// evaluations share them.
type termCache struct {
	consumers sync.Map // *catalog.Consumer to *ast.Term
	resources sync.Map // *catalog.Resource to *ast.Term
	grants    sync.Map // *catalog.Grant to *ast.Term
	size      atomic.Int64
}

func newTermCache() *termCache {
	return &termCache{}
}

func cachedTerm[T any](cache *termCache, terms *sync.Map, key *T, build func(*T) *ast.Term) *ast.Term {
	if term, ok := terms.Load(key); ok {
		return term.(*ast.Term)
	}
	if cache.size.Load() >= maxCachedTerms {
		cache.clear()
	}
	term, loaded := terms.LoadOrStore(key, build(key))
	if !loaded {
		cache.size.Add(1)
	}
	return term.(*ast.Term)
}

func (c *termCache) clear() {
	c.consumers.Clear()
	c.resources.Clear()
	c.grants.Clear()
	c.size.Store(0)
}
