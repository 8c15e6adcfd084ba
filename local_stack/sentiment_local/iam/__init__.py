"""IAM, enforced: the check in front of moto, which actions each request needs, and the least-privilege report."""
