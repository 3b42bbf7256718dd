# netdoctor.ipsec: two entry points on a fresh Debian 12 machine (root): `make demo` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help
ENV := . tools/env.sh
FAULT ?= fw-esp

.PHONY: help bootstrap demo test sanity units lint docs lab-test molecule clean

help:
	@echo "make demo   - bring up the built-in lab with a fault (FAULT=$(FAULT)) and diagnose it"
	@echo "make test   - run every test (sanity, units, old-Python checks, lint, docs, lab, molecule)"

bootstrap:
	@tools/bootstrap.sh

demo: bootstrap
	@$(ENV) && tools/demo.sh $(FAULT)

test: bootstrap
	@tools/test.sh

sanity units lint docs molecule: bootstrap
	@tools/test.sh $@

lab-test: bootstrap
	@tools/test.sh lab

clean:
	@$(ENV) && python -m lab down || true
