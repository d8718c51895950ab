package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/citydata/datagateway/gateway/identity"
)

// New validates file as Parse does and builds the catalogue from it. source
// names the catalogue in errors, such as "registry version 12". On any
// error New returns no catalogue. New keeps file's slices, so the caller
// must not modify them afterwards.
func New(file File, source string) (*Catalog, error) {
	if err := file.Validate(); err != nil {
		return nil, fmt.Errorf("validating catalogue %q: %w", source, err)
	}
	return build(file)
}

// DecodeResource decodes one resource from JSON with the rules of the
// catalogue file: exactly one object, no unknown field, and errors that
// name the line and the fix. It does not validate the resource.
func DecodeResource(data []byte) (Resource, error) {
	var resource Resource
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return resource, errors.New("the resource must be a JSON object with id, provider, " +
			"path_prefix, upstream, share and open")
	}

	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&resource); err != nil {
		return resource, describeJSONError(err, data)
	}
	if _, err := dec.Token(); err != io.EOF {
		return resource, fmt.Errorf("unexpected data after the resource object at line %d: "+
			"send one JSON object", lineOf(data, dec.InputOffset()))
	}
	return resource, nil
}

// ValidID reports whether id is a valid entry id: a non-empty string of
// lowercase letters, digits, ".", "_" and "-" that is not a resident
// identity number. A valid id may appear in errors, logs and audit records.
func ValidID(id string) bool {
	return isID(id) && !identity.ValidIDNumberFold([]byte(id))
}

// File returns the catalogue's content. The slices are shared with the
// catalogue, so the caller must not modify them.
func (c *Catalog) File() File {
	if c == nil {
		return File{}
	}
	return c.file
}
