package caddymodule

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/citydata/datagateway/gateway/audit"
	"github.com/citydata/datagateway/gateway/catalog"
	"github.com/citydata/datagateway/gateway/registry"
)

// Registry policy actions on resources.
const (
	actionRegister = "resource.register"
	actionUpdate   = "resource.update"
	actionRetire   = "resource.retire"
	actionRead     = "resource.read"
)

func init() {
	registryRoutes = append(registryRoutes,
		registryRoute{pattern: "POST /registry/resources", handle: registerResource},
		registryRoute{pattern: "GET /registry/resources", handle: listResources},
		registryRoute{pattern: "GET /registry/resources/{id}", handle: getResource},
		registryRoute{pattern: "PUT /registry/resources/{id}", handle: updateResource},
		registryRoute{pattern: "DELETE /registry/resources/{id}", handle: retireResource},
		registryRoute{pattern: "GET /registry/resources/{id}/history", handle: resourceHistory},
	)
}

// changeResponse is the body returned for a committed change: the version
// record written to the resource's history.
type changeResponse struct {
	registry.HistoryRecord
	RequestID string `json:"request_id"`
}

// registerResource serves POST /registry/resources: the body is one
// resource in catalogue JSON.
func registerResource(c *registryCall) error {
	res, err := c.decodeResource()
	if err != nil {
		return err
	}
	c.noteResource(&res)
	record, err := c.store().RegisterResource(c.r.Context(), c.actor.ID, res,
		c.authorizer(actionRegister, &res))
	if err != nil {
		return err
	}
	c.committed(http.StatusCreated, record)
	return nil
}

// updateResource serves PUT /registry/resources/{id}: the body is the
// whole new version of the resource. An id in the body must match the
// path's; a body without one takes the path's.
func updateResource(c *registryCall) error {
	id, err := c.resourceID()
	if err != nil {
		return err
	}
	res, err := c.decodeResource()
	if err != nil {
		return err
	}
	switch res.ID {
	case "":
		res.ID = id
	case id:
	default:
		return &registryError{status: http.StatusBadRequest,
			msg: fmt.Sprintf("invalid resource %q", id),
			reasons: []string{fmt.Sprintf("id: the body's id %q differs from the path's %q: "+
				"send the update to the path of the resource it replaces", redactPath(res.ID), id)}}
	}
	c.noteResource(&res)
	record, err := c.store().UpdateResource(c.r.Context(), c.actor.ID, res,
		c.authorizer(actionUpdate, &res))
	if err != nil {
		return err
	}
	c.committed(http.StatusOK, record)
	return nil
}

// retireResource serves DELETE /registry/resources/{id}.
func retireResource(c *registryCall) error {
	id, err := c.resourceID()
	if err != nil {
		return err
	}
	c.rec.Resource = id
	record, err := c.store().RetireResource(c.r.Context(), c.actor.ID, id,
		c.authorizer(actionRetire, nil))
	if err != nil {
		return err
	}
	c.committed(http.StatusOK, record)
	return nil
}

// committed applies a change on this instance and replies with its record,
// which the audit record summarises.
func (c *registryCall) committed(status int, record registry.HistoryRecord) {
	c.refresh()
	c.rec.Provider = record.Resource.Provider
	summary := fmt.Sprintf("%s version %d", record.Action, record.Version)
	if len(record.Changes) > 0 {
		summary += ": " + strings.Join(record.Changes, ", ")
	}
	c.rec.Reasons = []string{summary}
	c.reply(status, record.Action, changeResponse{HistoryRecord: record, RequestID: c.rid})
}

// listResponse is the body of GET /registry/resources.
type listResponse struct {
	Version   int64              `json:"version"`
	Resources []catalog.Resource `json:"resources"`
	RequestID string             `json:"request_id"`
}

// listResources serves GET /registry/resources: every resource the
// registry serves that the caller may read, sorted by id.
func listResources(c *registryCall) error {
	if err := c.authorize(actionRead, nil, registry.Existing{}); err != nil {
		return err
	}
	version, resources, err := c.store().Resources(c.r.Context())
	if err != nil {
		return err
	}
	readable := make([]catalog.Resource, 0, len(resources))
	for i := range resources {
		err := c.authorize(actionRead, nil, registry.Existing{Resource: &resources[i]})
		var refusal *registryError
		switch {
		case err == nil:
			readable = append(readable, resources[i])
		case errors.As(err, &refusal) && refusal.status == http.StatusForbidden:
		default:
			return err
		}
	}
	c.reply(http.StatusOK, audit.DecisionAllow,
		listResponse{Version: version, Resources: readable, RequestID: c.rid})
	return nil
}

// resourceResponse is the body of GET /registry/resources/{id}.
type resourceResponse struct {
	Resource  *catalog.Resource `json:"resource"`
	Retired   bool              `json:"retired"`
	RequestID string            `json:"request_id"`
}

// getResource serves GET /registry/resources/{id}, for a live or a
// retired resource.
func getResource(c *registryCall) error {
	existing, err := c.readable()
	if err != nil {
		return err
	}
	c.reply(http.StatusOK, audit.DecisionAllow, resourceResponse{
		Resource: existing.Resource, Retired: existing.Retired, RequestID: c.rid,
	})
	return nil
}

// historyResponse is the body of GET /registry/resources/{id}/history.
type historyResponse struct {
	ID        string                   `json:"id"`
	Retired   bool                     `json:"retired"`
	Versions  []registry.HistoryRecord `json:"versions"`
	RequestID string                   `json:"request_id"`
}

// resourceHistory serves GET /registry/resources/{id}/history: every
// version, oldest first, also of a retired resource.
func resourceHistory(c *registryCall) error {
	existing, err := c.readable()
	if err != nil {
		return err
	}
	versions, err := c.store().History(c.r.Context(), existing.Resource.ID)
	if err != nil {
		return err
	}
	c.reply(http.StatusOK, audit.DecisionAllow, historyResponse{
		ID: existing.Resource.ID, Retired: existing.Retired, Versions: versions, RequestID: c.rid,
	})
	return nil
}

// readable returns the resource of the path, live or retired, once the
// policy lets the caller read it.
func (c *registryCall) readable() (registry.Existing, error) {
	id, err := c.resourceID()
	if err != nil {
		return registry.Existing{}, err
	}
	c.rec.Resource = id
	existing, err := c.store().Resource(c.r.Context(), id)
	if err != nil {
		return registry.Existing{}, err
	}
	if existing.Resource == nil {
		return registry.Existing{}, fmt.Errorf("reading resource %q: %w", id, registry.ErrNotFound)
	}
	c.rec.Provider = existing.Resource.Provider
	if err := c.authorize(actionRead, nil, existing); err != nil {
		return registry.Existing{}, err
	}
	return existing, nil
}

// noteResource records the resource and provider a change names in the
// audit record, unless they are not valid ids: a value such as a resident
// identity number must not reach the audit trail.
func (c *registryCall) noteResource(res *catalog.Resource) {
	if catalog.ValidID(res.ID) {
		c.rec.Resource = res.ID
	}
	if catalog.ValidID(res.Provider) {
		c.rec.Provider = res.Provider
	}
}

// resourceID returns the path's resource id, once checked.
func (c *registryCall) resourceID() (string, error) {
	id := c.r.PathValue("id")
	if !catalog.ValidID(id) {
		return "", &registryError{status: http.StatusBadRequest,
			msg: fmt.Sprintf("invalid resource id %q in the path: ids use only lowercase "+
				"letters, digits, \".\", \"_\" and \"-\"", redactPath(id))}
	}
	return id, nil
}

// decodeResource reads the body as one resource in catalogue JSON.
func (c *registryCall) decodeResource() (catalog.Resource, error) {
	body, err := c.readBody()
	if err != nil {
		return catalog.Resource{}, err
	}
	res, err := catalog.DecodeResource(body)
	if err != nil {
		return catalog.Resource{}, &registryError{status: http.StatusBadRequest,
			msg: "invalid request body: " + err.Error()}
	}
	return res, nil
}
