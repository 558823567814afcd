# Ruby defaults for Powernode nodes.
export GEM_HOME=/var/lib/gems
export BUNDLE_DEPLOYMENT=1
