# packaging/packaging.mk: .deb, .rpm and the appliance disk image.
# Included by the top-level Makefile, which provides VERSION, LDFLAGS and the
# `build` target. Everything lands in dist/ with a SHA-256 sum and an SPDX
# software bill of materials next to it. See packaging/README.md.
#
#   make deb rpm        packages for PKG_ARCHES (amd64 arm64)
#   make package-test   inspect the packages, lint, install into a throwaway
#                       Debian root, check the unit's exposure score
#   make image          bootable x86-64 Debian disk image, raw and qcow2 (root)
#   make image-test     boot the image in qemu until tresor answers (root)

GO            ?= go
VERSION       ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS       ?= -s -w -X main.version=$(VERSION)
PKG_VERSION   := $(shell scripts/pkg-version.sh $(VERSION))
PKG_ARCHES    ?= amd64 arm64
PKG_DIST      ?= dist
PKG_MAINTAINER ?= tresor maintainers <packaging@tresor.invalid>
PKG_HOMEPAGE  ?= https://tresor.invalid/
export PKG_MAINTAINER PKG_HOMEPAGE
# What the packages are built from. PKG_BUILD_DEP is the top-level build
# (templ generate, host binary) that gates packaging; PKG_SRC_DIR and
# PKG_GO_PKG may point elsewhere to package a stand-in binary.
PKG_BUILD_DEP ?= build
PKG_SRC_DIR   ?= $(CURDIR)
PKG_GO_PKG    ?= ./cmd/tresor
# Image knobs: IMAGE_SSH=1 installs openssh-server and opens port 22;
# IMAGE_SSH_KEY=file authorises that public key for root.
IMAGE_SSH     ?= 0
IMAGE_SSH_KEY ?=
IMAGE_SIZE    ?= 2G
IMAGE_MIRROR  ?= http://deb.debian.org/debian
IMAGE_TIMEOUT ?= 900

PKG_DEB_FILES := $(foreach a,$(PKG_ARCHES),$(PKG_DIST)/tresor_$(PKG_VERSION)-1_$(a).deb)
PKG_RPM_FILES := $(foreach a,$(PKG_ARCHES),$(PKG_DIST)/tresor-$(PKG_VERSION)-1.$(if $(filter amd64,$(a)),x86_64,aarch64).rpm)
IMAGE_BASE    := $(PKG_DIST)/tresor-image-$(PKG_VERSION)-amd64

.PHONY: deb rpm packages package-test image image-deps image-test checksums pkg-bins pkg-clean

packages: deb rpm

# pkg-bins cross-compiles the static binary for every package architecture
# with the same flags as `make build`.
pkg-bins: $(PKG_BUILD_DEP)
	@set -e; for a in $(PKG_ARCHES); do \
		mkdir -p $(PKG_DIST)/bin/linux-$$a; \
		echo "go build linux/$$a"; \
		(cd $(PKG_SRC_DIR) && CGO_ENABLED=0 GOOS=linux GOARCH=$$a $(GO) build -trimpath \
			-ldflags '$(LDFLAGS)' -o $(abspath $(PKG_DIST))/bin/linux-$$a/tresor $(PKG_GO_PKG)); \
	done
	@$(GO) build -o $(PKG_DIST)/bin/sbom ./packaging/sbom

$(PKG_DIST)/changelog.Debian.gz: FORCE
	@mkdir -p $(PKG_DIST)
	@{ printf 'tresor (%s-1) stable; urgency=medium\n\n  * Built from git %s.\n\n' '$(PKG_VERSION)' '$(VERSION)'; \
	   printf ' -- $(PKG_MAINTAINER)  %s\n' "$$(date -R -u -d @$$(git log -1 --format=%ct 2>/dev/null || date +%s))"; \
	 } | gzip -9n > $@

# package TYPE: one nfpm run and one SBOM per architecture.
define pkg_build
	@set -e; for a in $(PKG_ARCHES); do \
		case "$(1)-$$a" in deb-*) out=$(PKG_DIST)/tresor_$(PKG_VERSION)-1_$$a.deb ;; \
			rpm-amd64) out=$(PKG_DIST)/tresor-$(PKG_VERSION)-1.x86_64.rpm ;; \
			rpm-arm64) out=$(PKG_DIST)/tresor-$(PKG_VERSION)-1.aarch64.rpm ;; esac; \
		old=$$(echo "$$out" | sed 's/$(PKG_VERSION)/*/'); rm -f $$old $$old.spdx.json; \
		PKG_ARCH=$$a PKG_VERSION='$(PKG_VERSION)' PKG_BIN=$(PKG_DIST)/bin/linux-$$a/tresor \
		PKG_CHANGELOG=$(PKG_DIST)/changelog.Debian.gz \
			$(GO) tool nfpm package --config packaging/nfpm.yaml --packager $(1) --target $$out; \
		$(PKG_DIST)/bin/sbom -binary $(PKG_DIST)/bin/linux-$$a/tresor -artefact $$out -out $$out.spdx.json; \
	done
	@scripts/pkg-checksums.sh $(PKG_DIST)
endef

deb: pkg-bins $(PKG_DIST)/changelog.Debian.gz
	$(call pkg_build,deb)

rpm: pkg-bins $(PKG_DIST)/changelog.Debian.gz
	$(call pkg_build,rpm)

checksums:
	@scripts/pkg-checksums.sh $(PKG_DIST)

package-test: deb rpm
	scripts/pkg-test.sh $(PKG_DIST) $(PKG_VERSION)

image-deps:
	scripts/image/deps.sh

# image needs root (mmdebstrap, loop devices, grub-install).
image: image-deps
	$(MAKE) PKG_ARCHES=amd64 deb
	IMAGE_SSH=$(IMAGE_SSH) IMAGE_SSH_KEY=$(IMAGE_SSH_KEY) IMAGE_SIZE=$(IMAGE_SIZE) \
	IMAGE_MIRROR=$(IMAGE_MIRROR) IMAGE_SBOM_TOOL=$(PKG_DIST)/bin/sbom \
		scripts/image/build.sh $(PKG_DIST)/tresor_$(PKG_VERSION)-1_amd64.deb $(IMAGE_BASE)
	@scripts/pkg-checksums.sh $(PKG_DIST)

# image-test boots the image `make image` left in dist/ (only the newest is
# kept; the version in its name moves with every commit).
image-test:
	scripts/image-smoke-test.sh $(or $(IMAGE_QCOW2),$(lastword $(sort $(wildcard $(PKG_DIST)/tresor-image-*-amd64.qcow2))),$(IMAGE_BASE).qcow2) $(IMAGE_TIMEOUT)

pkg-clean:
	rm -rf $(PKG_DIST)

FORCE:
