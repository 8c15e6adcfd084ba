"""``template.yaml`` read once for everyone: the reader that resolves intrinsics and names, SAM's translation,
and the roles and policies the template grants. It imports neither the local stack nor the deployer; both
import it."""
