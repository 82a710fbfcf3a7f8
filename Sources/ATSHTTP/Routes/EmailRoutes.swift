import ATSDomain
import ATSJobs
import ATSStore
import Hummingbird

extension RouteTable {
    func addEmailRoutes() {}
}
