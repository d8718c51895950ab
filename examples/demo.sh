#!/usr/bin/env bash
# Sends twelve requests through the data gateway that show its rules at
# work, and prints each status and body. Exits 1 if any status differs from
# the expected one, or if a body that must be masked contains the unmasked
# identity number of the subject queried.
#
# Needs the gateway on $GATEWAY (default http://localhost:8080), loaded with
# catalogue.json, and the demo providers (go run ./examples/providers) on
# their default ports.
set -euo pipefail

here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=demo-keys.env
source "$here/demo-keys.env"

GATEWAY=${GATEWAY:-http://localhost:8080}
GATEWAY=${GATEWAY%/}

# Subjects from the providers' fixed-seed records, which providers -list
# prints. The providers' tests check that each exists as described.
# 欧阳天佑, 思明区: household head, married, adopter, typhoon evacuee.
SUBJECT_PERSON=350203196804140613
# The same identity number with a wrong check digit (the right one is 3).
SUBJECT_PERSON_BAD_CHECK=350203196804140614
# 厦门同益软件有限公司, in business.
SUBJECT_COMPANY=91350200MA3MEBQL6X

body_file=$(mktemp)
headers_file=$(mktemp)
trap 'rm -f "$body_file" "$headers_file"' EXIT

passed=0
failures=()

# print_body pretty-prints the response body when it is JSON and python3 is
# installed, and prints it as it is otherwise.
print_body() {
	if [[ ! -s $body_file ]]; then
		echo "(empty body)"
		return
	fi
	if command -v python3 >/dev/null &&
		python3 -m json.tool --no-ensure-ascii <"$body_file" 2>/dev/null; then
		return
	fi
	cat "$body_file"
	echo
}

# request NUMBER EXPECTED DESCRIPTION KEY SCENARIO PATH [FORBIDDEN]
# sends GET $GATEWAY$PATH with the API key and scenario (either may be
# empty) and checks the status against EXPECTED. FORBIDDEN, if given, is a
# string the body must not contain.
request() {
	local number=$1 expected=$2 description=$3 key=$4 scenario=$5 path=$6 forbidden=${7:-}
	local curl_args=(
		--silent --show-error --compressed --max-time 60
		--output "$body_file" --dump-header "$headers_file" --write-out '%{http_code}'
	)
	if [[ -n $key ]]; then
		curl_args+=(--header "Authorization: Bearer $key")
	fi
	if [[ -n $scenario ]]; then
		curl_args+=(--header "X-Data-Scenario: $scenario")
	fi

	printf '\n=== %s. %s (expected %s)\n' "$number" "$description" "$expected"
	printf 'GET %s%s' "$GATEWAY" "$path"
	if [[ -n $scenario ]]; then
		printf '  X-Data-Scenario: %s' "$scenario"
	fi
	printf '\n'

	: >"$body_file"
	: >"$headers_file"
	local status
	if ! status=$(curl "${curl_args[@]}" "$GATEWAY$path"); then
		status=000
	fi

	local verdict="ok"
	if [[ $status != "$expected" ]]; then
		verdict="FAILED: expected $expected"
		failures+=("$number. $description: status $status, expected $expected")
	elif [[ -n $forbidden ]] && grep -qF -- "$forbidden" "$body_file"; then
		verdict="FAILED: the body contains the unmasked identity number"
		failures+=("$number. $description: the body contains the unmasked identity number")
	else
		passed=$((passed + 1))
	fi
	printf 'status %s, %s\n' "$status" "$verdict"
	grep -iE '^(x-request-id|x-data-source|retry-after):' "$headers_file" | tr -d '\r' || true
	print_body
}

request 1 200 "population.person read by siming-civil-affairs: id numbers and phones partially masked" \
	"$KEY_SIMING_CIVIL" social_assistance_review "/api/population/persons/$SUBJECT_PERSON" "$SUBJECT_PERSON"

request 2 403 "population.person read by citizen-chen: the register is not open to the public" \
	"$KEY_CITIZEN_CHEN" personal_inquiry "/api/population/persons/$SUBJECT_PERSON"

request 3 403 "marriage.record read by siming-civil-affairs: conditional share without an application" \
	"$KEY_SIMING_CIVIL" social_assistance_review "/api/marriage/records/$SUBJECT_PERSON"

request 4 403 "marriage.record read by xm-housing-bureau for marketing: not the approved scenario" \
	"$KEY_HOUSING_BUREAU" marketing "/api/marriage/records/$SUBJECT_PERSON"

request 5 200 "marriage.record read by xm-housing-bureau for housing_subsidy_review: only the granted fields" \
	"$KEY_HOUSING_BUREAU" housing_subsidy_review "/api/marriage/records/$SUBJECT_PERSON" "$SUBJECT_PERSON"

request 6 403 "enterprise.registration read by haixi-trading: applicant on the dishonest judgment debtor list" \
	"$KEY_HAIXI_TRADING" supplier_due_diligence "/api/enterprise/companies/$SUBJECT_COMPANY"

request 7 200 "enterprise.registration read by ludao-data-tech: gzip body from the provider, decoded and masked" \
	"$KEY_LUDAO_DATA" supplier_due_diligence "/api/enterprise/companies/$SUBJECT_COMPANY"

request 8 403 "civil.adoption read by siming-civil-affairs: not shared, the refusal quotes the law" \
	"$KEY_SIMING_CIVIL" social_assistance_review "/api/civil/adoptions/$SUBJECT_PERSON"

request 9 401 "population.person without an API key" \
	"" social_assistance_review "/api/population/persons/$SUBJECT_PERSON"

request 10 404 "a path no catalogue resource serves" \
	"$KEY_SIMING_CIVIL" social_assistance_review "/api/unknown/thing"

request 11 400 "population.person with a wrong identity number check digit, refused before any upstream call" \
	"$KEY_SIMING_CIVIL" social_assistance_review "/api/population/persons/$SUBJECT_PERSON_BAD_CHECK"

request 12 200 "emergency.typhoon_evacuee read by xm-city-platform for typhoon_response, inside the emergency" \
	"$KEY_CITY_PLATFORM" typhoon_response "/api/emergency/typhoon-evacuees/$SUBJECT_PERSON"

printf '\n%d passed, %d failed\n' "$passed" "${#failures[@]}"
if ((${#failures[@]} > 0)); then
	printf '  %s\n' "${failures[@]}"
	exit 1
fi
