package catalog

import (
	"crypto/sha256"
	"fmt"
	"unsafe"
)

// checkProviders checks every provider entry. A provider's key must differ
// from every other provider's and every consumer's, so that one key always
// names one actor.
func (v *validator) checkProviders() {
	ids := make(map[string]string)
	keys := make(map[string]string)
	for i := range v.file.Consumers {
		if digest := v.file.Consumers[i].APIKeySHA256; digest != "" {
			keys[digest] = fmt.Sprintf("consumers[%d]", i)
		}
	}
	for i := range v.file.Providers {
		provider := &v.file.Providers[i]
		e := v.entry("providers", i, provider.ID)
		e.checkID(ids)
		if _, ok := v.providers[provider.ID]; !ok {
			v.providers[provider.ID] = provider
		}

		if provider.Role != RoleProvider && provider.Role != RoleOperator {
			e.fail("role", "invalid role %q: use %q for a department that registers "+
				"resources or %q for a platform operator", provider.Role, RoleProvider, RoleOperator)
		}
		if provider.APIKeySHA256 == "" {
			e.fail("api_key_sha256", "missing: set the SHA-256 of the provider's API key "+
				"as 64 lowercase hex digits")
			continue
		}
		e.checkCredential("api_key_sha256", provider.APIKeySHA256, keys)
	}
}

// checkResourceProvider checks that a resource names a provider with the
// provider role, when the catalogue lists providers at all.
func (v *validator) checkResourceProvider(e entry, resource *Resource) {
	if resource.Provider == "" {
		e.fail("provider", "missing: name the department that provides the data")
		return
	}
	if len(v.file.Providers) == 0 {
		return
	}
	provider, ok := v.providers[resource.Provider]
	switch {
	case !ok:
		e.fail("provider", "unknown provider %q: use the id of an entry in providers",
			resource.Provider)
	case provider.Role != RoleProvider && provider.Role != RoleOperator:
		// An unknown role is reported with the provider.
	case provider.Role != RoleProvider:
		e.fail("provider", "%q has the role %q: a resource must name a department "+
			"with the role %q", resource.Provider, provider.Role, RoleProvider)
	}
}

func (c *Catalog) indexProviders() {
	c.providerByID = make(map[string]*Provider, len(c.file.Providers))
	c.providerByKey = make(map[[sha256.Size]byte]*Provider, len(c.file.Providers))
	for i := range c.file.Providers {
		provider := &c.file.Providers[i]
		c.providerByID[provider.ID] = provider
		if sum, ok := parseSHA256(provider.APIKeySHA256); ok {
			c.providerByKey[sum] = provider
		}
	}
}

// ProviderByKey returns the provider or operator whose API key is apiKey,
// or nil.
func (c *Catalog) ProviderByKey(apiKey string) *Provider {
	if c == nil || apiKey == "" {
		return nil
	}
	// As in ConsumerByKey, the digest is computed over the key's bytes in
	// place.
	sum := sha256.Sum256(unsafe.Slice(unsafe.StringData(apiKey), len(apiKey)))
	return c.providerByKey[sum]
}

// ProviderByID returns the provider or operator with the given id, or nil.
func (c *Catalog) ProviderByID(id string) *Provider {
	if c == nil {
		return nil
	}
	return c.providerByID[id]
}

// Providers returns every provider and operator in catalogue order. The
// slice is a copy, but the entries are shared and must not be modified.
func (c *Catalog) Providers() []*Provider {
	if c == nil {
		return nil
	}
	out := make([]*Provider, len(c.file.Providers))
	for i := range c.file.Providers {
		out[i] = &c.file.Providers[i]
	}
	return out
}
