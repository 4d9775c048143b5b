# The article's daily workflow as kindfleet commands (written by `kindfleet init --makefile`).
#   make kind-up         # hub + spokes, in parallel
#   make deploy-local    # the platform onto them
#   make test-failover   # a spoke fails, the hub goes away: the platform must fail over
#   make test            # every check suite (JUnit in $(REPORTS)/checks.xml)
#   make load-test       # the article's 10K requests across the spokes
#   make kind-down       # every cluster, registry and context gone, faults undone first
FLEET ?= {fleet}
KINDFLEET ?= kindfleet
REPORTS ?= reports
REQUESTS ?= 10000
SPOKES ?=

.PHONY: kind-up deploy-local test-failover test load-test kind-down status

kind-up:
	$(KINDFLEET) up -f $(FLEET)

deploy-local:
	$(KINDFLEET) deploy -f $(FLEET)

test-failover:
	$(KINDFLEET) check -f $(FLEET) --suite failover --junit $(REPORTS)/failover.xml

test:
	$(KINDFLEET) check -f $(FLEET) --junit $(REPORTS)/checks.xml

load-test:
	$(KINDFLEET) load -f $(FLEET) --requests $(REQUESTS) $(if $(SPOKES),--spokes $(SPOKES)) --report $(REPORTS)/load

status:
	$(KINDFLEET) status -f $(FLEET)

kind-down:
	$(KINDFLEET) down -f $(FLEET)
