# desired/example.com: one certificate for example.com and www.example.com; everything else
# comes from conf/target (examples/conf-target) or the defaults. Copy it to
# $ACME_STATE_DIR/desired/ (or run `acmed want example.com www.example.com`).
#
# An empty file works too: its name is then the one hostname wanted.
satisfy:
  names:
    - example.com
    - www.example.com
