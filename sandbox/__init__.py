"""Docker sandboxes: image build, sessions with limits, file transfer, clean-up."""
