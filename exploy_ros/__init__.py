"""exploy_ros: run an exploy policy file as a ROS 2 node (topics, timers, bags)."""
